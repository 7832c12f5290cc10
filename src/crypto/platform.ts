/**
 * Node built-ins, reached through `process.getBuiltinModule` (Node ≥ 20.16) so that bundlers never
 * see a `node:` import: in the browser, where it is absent, this returns undefined and the callers
 * use WebCrypto (or noble). Under Node, node:crypto does the same OpenSSL work as Node's WebCrypto
 * without a promise and a thread hop per call (measured in BENCHMARKS.md).
 */
export function nodeBuiltin(id: string): unknown {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return typeof proc?.getBuiltinModule === 'function' ? proc.getBuiltinModule(id) : undefined;
}
