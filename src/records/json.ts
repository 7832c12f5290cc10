/**
 * Writing members of plain JSON objects built from untrusted input.
 *
 * `out[key] = value` is not a plain write when `key` is `"__proto__"`: it calls Object.prototype's
 * setter, which drops the member (primitive value) or swaps the copy's prototype (object value). A
 * resource that carries such a member would then hash, compare and export as if it did not, so two
 * different records could de-duplicate into one. JSON.parse makes `__proto__` an own member; every
 * copy we build must do the same.
 */

/** Sets `key` on `out` as an own, enumerable data member, whatever the key is. */
export function setMember(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
