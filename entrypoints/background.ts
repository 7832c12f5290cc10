import { startBackground } from "../src/ui/index.js";

export default defineBackground({ type: 'module', main: () => startBackground() });
