import { installPageProvider } from '../src/api/index.js';

// Firefox: injected into the page by the content script (web-accessible resource).
export default defineUnlistedScript({
  include: ['firefox'],
  main() {
    installPageProvider(window);
  },
});
