import { buildExtension } from './harness.js';

/** Builds the extension once for every e2e file (Vitest runs this only when e2e files are selected). */
export default function setup(): void {
  buildExtension();
}
