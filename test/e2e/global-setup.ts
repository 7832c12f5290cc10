import { buildExtension } from './harness.js';

/** Builds the extension once for every e2e file. */
export default function setup(): void {
  buildExtension();
}
