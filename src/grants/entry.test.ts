import { describe, expect, it } from 'vitest';
import { concatBytes, encodeCanonical, sha256, utf8 } from '../crypto/index.js';
import { MAX_DEPS, MAX_HEADER_BYTES } from './constants.js';
import { HeaderProblem, decodeHeader, encodeHeader, entryIdOf, signEntry, sortIds } from './entry.js';
import { GrantsError } from './errors.js';
import { party } from './testkit.js';
import type { EntryHeader, VaultId } from './types.js';
import { idBytes } from './validate.js';

const author = party('author');
const vault = 'A'.repeat(43) as VaultId;
const idA = sortIds([entryIdOf(utf8('a'), new Uint8Array(64)), entryIdOf(utf8('b'), new Uint8Array(64))]);

const header: EntryHeader = {
  v: 1,
  vault,
  author: author.did,
  seq: 1,
  prev: idA[0]!,
  deps: [idA[1]!],
  ts: 1_700_000_000_000,
  type: 'grant',
  bodyHash: sha256(utf8('body')),
};

/** The wire map of a header, so tests can re-encode it in other (non-canonical) ways. */
function wire(h: EntryHeader): [string, unknown][] {
  return [
    ['v', h.v],
    ['ts', h.ts],
    ['seq', h.seq],
    ['deps', h.deps.map((d) => idBytes(d))],
    ['prev', h.prev === null ? null : idBytes(h.prev)],
    ['type', h.type],
    ['vault', h.vault === null ? null : idBytes(h.vault)],
    ['author', h.author],
    ['bodyHash', h.bodyHash],
  ];
}

// A minimal CBOR writer (RFC 8949 §3) that can write what DAG-CBOR forbids: long-form heads,
// unsorted keys, indefinite lengths.
function head(major: number, n: number, long = false): Uint8Array {
  if (!long && n < 24) return new Uint8Array([(major << 5) | n]);
  if (n < 256 && !long) return new Uint8Array([(major << 5) | 24, n]);
  if (n < 65536) return new Uint8Array([(major << 5) | 25, n >> 8, n & 255]);
  const out = new Uint8Array(9);
  out[0] = (major << 5) | 27;
  new DataView(out.buffer).setBigUint64(1, BigInt(n));
  return out;
}
function item(value: unknown): Uint8Array {
  return encodeCanonical(value);
}
function map(entries: [string, Uint8Array][], options: { indefinite?: boolean } = {}): Uint8Array {
  const parts = entries.flatMap(([k, v]) => [item(k), v]);
  return options.indefinite ? concatBytes(new Uint8Array([0xbf]), ...parts, new Uint8Array([0xff])) : concatBytes(head(5, entries.length), ...parts);
}
function canonicalOrder(entries: [string, unknown][]): [string, unknown][] {
  return [...entries].sort(([a], [b]) => a.length - b.length || (a < b ? -1 : 1));
}

function problemOf(bytes: Uint8Array): string {
  try {
    decodeHeader(bytes);
    return 'OK';
  } catch (error) {
    if (error instanceof HeaderProblem) return error.code;
    throw error;
  }
}

describe('entry headers', () => {
  it('round-trips a header through its canonical bytes', () => {
    expect(decodeHeader(encodeHeader(header))).toEqual(header);
  });

  it('our hand-written canonical map equals the encoder\u2019s bytes (so the variants below differ only as named)', () => {
    const bytes = map(canonicalOrder(wire(header)).map(([k, v]) => [k, item(v)]));
    expect(bytes).toEqual(encodeHeader(header));
  });

  it('rejects, not normalises, other encodings of the same header (NON_CANONICAL)', () => {
    const sorted = canonicalOrder(wire(header));
    const unsorted = map([...sorted].reverse().map(([k, v]) => [k, item(v)]));
    const indefinite = map(sorted.map(([k, v]) => [k, item(v)]), { indefinite: true });
    const longSeq = map(sorted.map(([k, v]) => [k, k === 'seq' ? head(0, v as number, true) : item(v)]));
    const longVersion = map(sorted.map(([k, v]) => [k, k === 'v' ? new Uint8Array([0x18, 1]) : item(v)]));
    const longText = map(sorted.map(([k, v]) => [k, k === 'type' ? concatBytes(new Uint8Array([0x78, 5]), utf8('grant')) : item(v)]));
    for (const bytes of [unsorted, indefinite, longSeq, longVersion, longText]) expect(problemOf(bytes)).toBe('NON_CANONICAL');
    expect(problemOf(concatBytes(encodeHeader(header), new Uint8Array([0])))).toBe('NON_CANONICAL');
    expect(problemOf(encodeHeader(header).subarray(0, 40))).toBe('NON_CANONICAL');
    expect(problemOf(new Uint8Array(0))).toBe('NON_CANONICAL');
  });

  it('names each broken rule with its code', () => {
    const enc = (over: Record<string, unknown>, drop: string[] = []): Uint8Array =>
      encodeCanonical(Object.fromEntries([...wire(header).filter(([k]) => !drop.includes(k)), ...Object.entries(over)]));
    expect(problemOf(enc({ v: 2 }))).toBe('UNSUPPORTED_VERSION');
    expect(problemOf(enc({}, ['v']))).toBe('UNSUPPORTED_VERSION');
    expect(problemOf(enc({ type: 'grant.v2' }))).toBe('UNKNOWN_TYPE');
    expect(problemOf(enc({ type: 7 }))).toBe('BAD_HEADER');
    expect(problemOf(enc({ extra: 1 }))).toBe('BAD_HEADER');
    expect(problemOf(enc({}, ['bodyHash']))).toBe('BAD_HEADER');
    expect(problemOf(enc({ author: 'did:key:z6Mk-not-a-key' }))).toBe('BAD_HEADER');
    expect(problemOf(enc({ seq: -1 }))).toBe('BAD_HEADER');
    expect(problemOf(enc({ seq: 2 ** 31 }))).toBe('BAD_HEADER');
    expect(problemOf(enc({ ts: -5 }))).toBe('BAD_HEADER');
    expect(problemOf(enc({ ts: 1.5 }))).toBe('BAD_HEADER');
    expect(problemOf(enc({ bodyHash: new Uint8Array(31) }))).toBe('BAD_HEADER');
    expect(problemOf(enc({ prev: new Uint8Array(33) }))).toBe('BAD_HEADER');
    expect(problemOf(enc({ vault: null }))).toBe('BAD_HEADER');
    expect(problemOf(enc({ prev: null }))).toBe('BAD_PREV');
    expect(problemOf(enc({ seq: 0 }))).toBe('BAD_PREV');
    expect(problemOf(enc({ deps: [idBytes(idA[1]!), idBytes(idA[0]!)], prev: null, seq: 0 }))).toBe('BAD_DEPS');
    expect(problemOf(enc({ deps: [idBytes(idA[1]!), idBytes(idA[1]!)] }))).toBe('BAD_DEPS');
    expect(problemOf(enc({ deps: [idBytes(idA[0]!)] }))).toBe('BAD_DEPS');
    expect(problemOf(enc({ deps: Array.from({ length: MAX_DEPS + 1 }, (_, i) => sha256(new Uint8Array([i]))) }))).toBe('BAD_DEPS');
    expect(problemOf(enc({ type: 'genesis' }))).toBe('BAD_GENESIS');
    expect(problemOf(enc({ type: 'genesis', vault: null, seq: 0, prev: null, deps: [] }))).toBe('OK');
    expect(problemOf(encodeCanonical([1, 2]))).toBe('BAD_HEADER');
    expect(problemOf(new Uint8Array(MAX_HEADER_BYTES + 1))).toBe('ENTRY_TOO_LARGE');
  });

  it('never signs a header the verifier would refuse', async () => {
    await expect(signEntry(author, { ...header, seq: 0 }, utf8('x'))).rejects.toBeInstanceOf(GrantsError);
    await expect(signEntry(party('other'), header, utf8('x'))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('gives an entry the id SHA-256(header ‖ signature) and commits to the body by its hash', async () => {
    const signed = await signEntry(author, header, utf8('body'));
    expect(signed.id).toBe(entryIdOf(signed.header, signed.signature));
    expect(decodeHeader(signed.header).bodyHash).toEqual(sha256(utf8('body')));
    expect(idBytes(signed.id)).toEqual(sha256(concatBytes(signed.header, signed.signature)));
  });
});
