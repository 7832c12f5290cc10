import {
  CryptoError,
  concatBytes,
  decodeCanonical,
  encodeCanonical,
  sha256,
  sign,
  toBase64Url,
  utf8,
  type Digest,
  type Identity,
} from '../crypto/index.js';
import { ENTRY_SIGNING_CONTEXT, LOG_VERSION, MAX_DEPS, MAX_HEADER_BYTES, MAX_SEQ } from './constants.js';
import type { ProblemCode } from './errors.js';
import { GrantsError } from './errors.js';
import { ENTRY_TYPES, type EntryHeader, type EntryId, type EntryType, type SignedEntry, type VaultId } from './types.js';
import { Invalid, didField, exactObject, idBytes, idField, intField, plainBytes } from './validate.js';

const HEADER_KEYS = ['v', 'vault', 'author', 'seq', 'prev', 'deps', 'ts', 'type', 'bodyHash'] as const;
const TYPE_SET: ReadonlySet<string> = new Set(ENTRY_TYPES);
const SIGNING_CONTEXT = utf8(ENTRY_SIGNING_CONTEXT);

/** Why a header was refused, with the problem code the verifier reports. */
export class HeaderProblem extends Error {
  override readonly name = 'HeaderProblem';
  constructor(
    readonly code: ProblemCode,
    message: string,
  ) {
    super(message);
  }
}

/** Scratch for header ‖ signature (sha256 is synchronous: one buffer serves every call; grown as needed). */
let signedHeaderScratch = new Uint8Array(1024);

/** The 32 bytes of an entry id: SHA-256 of the signed header (header bytes ‖ 64-byte signature). */
export function entryDigestOf(header: Uint8Array, signature: Uint8Array): Digest {
  if (!(header instanceof Uint8Array) || !(signature instanceof Uint8Array)) return sha256(concatBytes(header, signature)); // labelled error
  const length = header.length + signature.length;
  if (length > signedHeaderScratch.length) signedHeaderScratch = new Uint8Array(Math.max(length, 2 * signedHeaderScratch.length));
  signedHeaderScratch.set(header, 0);
  signedHeaderScratch.set(signature, header.length);
  return sha256(signedHeaderScratch.subarray(0, length));
}

/** Entry id: SHA-256 of the signed header (header bytes ‖ 64-byte signature), base64url. */
export function entryIdOf(header: Uint8Array, signature: Uint8Array): EntryId {
  return toBase64Url(entryDigestOf(header, signature)) as EntryId;
}

/** The bytes an entry signature covers: a domain-separation prefix, then the canonical header. */
export function entrySigningMessage(header: Uint8Array): Uint8Array {
  return concatBytes(SIGNING_CONTEXT, header);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Sorts entry ids by their bytes, the order `deps` must have. */
export function sortIds(ids: Iterable<EntryId>): EntryId[] {
  return [...new Set(ids)].map((id) => [id, idBytes(id)] as const).sort((a, b) => compareBytes(a[1], b[1])).map(([id]) => id);
}

/** Canonical bytes of a header. Throws GrantsError INVALID_INPUT on a header the verifier would refuse. */
export function encodeHeader(header: EntryHeader): Uint8Array {
  const wire = {
    v: header.v,
    vault: header.vault === null ? null : idBytes(header.vault),
    author: header.author,
    seq: header.seq,
    prev: header.prev === null ? null : idBytes(header.prev),
    deps: header.deps.map((d) => idBytes(d)),
    ts: header.ts,
    type: header.type,
    bodyHash: header.bodyHash,
  };
  let bytes: Uint8Array;
  try {
    bytes = plainBytes(encodeCanonical(wire));
  } catch (cause) {
    throw new GrantsError('INVALID_INPUT', 'header cannot be encoded', { cause });
  }
  try {
    decodeHeader(bytes);
  } catch (cause) {
    if (cause instanceof HeaderProblem) throw new GrantsError('INVALID_INPUT', `header refused: ${cause.message} [${cause.code}]`, { cause });
    throw cause;
  }
  return bytes;
}

/** Headers already decoded, by their bytes' identity (vaultOf and the verifier read the same input). */
const decodedHeaders = new WeakMap<Uint8Array, EntryHeader | HeaderProblem>();

/**
 * Decodes and checks canonical header bytes (memoised per Uint8Array: callers must not mutate
 * header bytes they have handed in). Throws {@link HeaderProblem} with the code of the
 * first rule broken: ENTRY_TOO_LARGE, NON_CANONICAL, BAD_HEADER, UNSUPPORTED_VERSION,
 * UNKNOWN_TYPE, BAD_GENESIS, BAD_PREV, BAD_DEPS.
 */
export function decodeHeader(bytes: Uint8Array): EntryHeader {
  const memo = decodedHeaders.get(bytes);
  if (memo instanceof HeaderProblem) throw memo;
  if (memo !== undefined) return memo;
  try {
    const header = decodeHeaderUncached(bytes);
    decodedHeaders.set(bytes, header);
    return header;
  } catch (error) {
    if (error instanceof HeaderProblem) decodedHeaders.set(bytes, error);
    throw error;
  }
}

function decodeHeaderUncached(bytes: Uint8Array): EntryHeader {
  if (bytes.length > MAX_HEADER_BYTES) throw new HeaderProblem('ENTRY_TOO_LARGE', `header is larger than ${MAX_HEADER_BYTES} bytes`);
  let value: unknown;
  try {
    value = decodeCanonical(bytes, MAX_HEADER_BYTES);
  } catch (cause) {
    const detail = cause instanceof CryptoError ? cause.message : 'undecodable';
    throw new HeaderProblem('NON_CANONICAL', `header is not canonical DAG-CBOR (${detail})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new HeaderProblem('BAD_HEADER', 'header is not a map');
  }
  const raw = value as Record<string, unknown>;
  // The version decides the rest of the shape, so it is checked first.
  if (raw.v !== LOG_VERSION) throw new HeaderProblem('UNSUPPORTED_VERSION', `header version is not ${LOG_VERSION}`);
  try {
    const r = exactObject(raw, HEADER_KEYS, 'header');
    if (typeof r.type !== 'string') throw new Invalid('type is not a string');
    if (!TYPE_SET.has(r.type)) throw new HeaderProblem('UNKNOWN_TYPE', 'entry type is not one this version knows');
    const type = r.type as EntryType;
    const author = didField(r.author, 'author');
    const seq = intField(r.seq, 'seq', 0, MAX_SEQ);
    const ts = intField(r.ts, 'ts', 0, Number.MAX_SAFE_INTEGER);
    if (!(r.bodyHash instanceof Uint8Array) || r.bodyHash.length !== 32) throw new Invalid('bodyHash is not 32 bytes');
    const bodyHash = r.bodyHash as Digest;
    const vault = r.vault === null ? null : (idField(r.vault, 'vault') as string as VaultId);
    const prev = r.prev === null ? null : idField(r.prev, 'prev');
    if (!Array.isArray(r.deps)) throw new Invalid('deps is not a list');
    if (r.deps.length > MAX_DEPS) throw new HeaderProblem('BAD_DEPS', `deps has more than ${MAX_DEPS} items`);
    const depBytes = r.deps as unknown[];
    const deps = depBytes.map((d, i) => idField(d, `deps[${i}]`));
    for (let i = 1; i < depBytes.length; i++) {
      if (compareBytes(depBytes[i - 1] as Uint8Array, depBytes[i] as Uint8Array) >= 0) {
        throw new HeaderProblem('BAD_DEPS', 'deps must be sorted by their bytes and without duplicates');
      }
    }
    if (prev !== null && deps.includes(prev)) throw new HeaderProblem('BAD_DEPS', 'deps repeats prev');
    if (type === 'genesis') {
      if (vault !== null || seq !== 0 || prev !== null || deps.length !== 0) {
        throw new HeaderProblem('BAD_GENESIS', 'a genesis entry has vault null, seq 0, prev null and no deps');
      }
    } else if (vault === null) {
      throw new Invalid('vault is null in an entry that is not genesis');
    }
    if ((seq === 0) !== (prev === null)) throw new HeaderProblem('BAD_PREV', 'prev must be null exactly at seq 0');
    return { v: LOG_VERSION, vault, author, seq, prev, deps, ts, type, bodyHash };
  } catch (error) {
    if (error instanceof Invalid) throw new HeaderProblem('BAD_HEADER', error.message);
    throw error;
  }
}

/** What a writer supplies to make an entry (the version is implied). */
export type HeaderFields = Omit<EntryHeader, 'v' | 'bodyHash'>;

/** Signs an entry: encodes the header (with the hash of `body`) and signs it as `identity`. */
export async function signEntry(identity: Identity, fields: HeaderFields, body: Uint8Array): Promise<SignedEntry & { id: EntryId; body: Uint8Array }> {
  if (fields.author !== identity.did) throw new GrantsError('INVALID_INPUT', 'author is not the signing identity');
  const header = encodeHeader({ ...fields, v: LOG_VERSION, bodyHash: sha256(body) });
  const signature = await sign(identity, entrySigningMessage(header));
  return { header, signature, body, id: entryIdOf(header, signature) };
}
