import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { assertBytes, concatBytes, equalBytes, toBase64Url, toHex } from './bytes.js';
import { didFromPublicKey, publicKeyFromDid } from './did.js';
import { CryptoError } from './errors.js';
import { nodeBuiltin } from './platform.js';
import type { Did, Signature } from './types.js';

/**
 * An Ed25519 identity. `secretKey` is the 32-byte RFC 8032 seed; it never leaves src/crypto and
 * src/store unencrypted and is never handed to a page.
 */
export interface Identity {
  readonly did: Did;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** A fresh random identity. */
export function generateIdentity(): Identity {
  return identityFromSecretKey(ed25519.utils.randomSecretKey());
}

/** The identity of a 32-byte Ed25519 seed (RFC 8032 §5.1.5). */
export function identityFromSecretKey(secretKey: Uint8Array): Identity {
  assertBytes(secretKey, 'secretKey', 32);
  const publicKey = ed25519.getPublicKey(secretKey);
  return Object.freeze({ did: didFromPublicKey(publicKey), publicKey, secretKey: secretKey.slice() });
}

type Subtle = SubtleCrypto;

function subtle(): Subtle | undefined {
  return globalThis.crypto?.subtle;
}

/** Whether this platform's WebCrypto does Ed25519 (Node ≥ 20, Chromium ≥ 113, Firefox ≥ 129). */
let webCryptoEd25519: Promise<boolean> | undefined;
function hasWebCryptoEd25519(): Promise<boolean> {
  webCryptoEd25519 ??= (async () => {
    try {
      const s = subtle();
      if (!s) return false;
      const pub = ed25519.getPublicKey(new Uint8Array(32));
      await s.importKey('raw', pub as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify']);
      return true;
    } catch {
      return false;
    }
  })();
  return webCryptoEd25519;
}

/**
 * Imported signing keys by the secret-key array, with a copy of secret ‖ public they came from:
 * compared on every use, so an identity whose arrays were overwritten in place (zeroed on lock)
 * never signs with the stale import.
 */
const signingKeys = new WeakMap<Uint8Array, { readonly bytes: Uint8Array; readonly key: Promise<CryptoKey> }>();

function signingKey(identity: Identity): Promise<CryptoKey> {
  const bytes = concatBytes(identity.secretKey, identity.publicKey);
  const cached = signingKeys.get(identity.secretKey);
  if (cached && equalBytes(cached.bytes, bytes)) return cached.key;
  // WebCrypto would refuse a JWK whose x does not match d with a bare DOMException. Check once
  // per import, with a labelled error.
  checkHalvesMatch(identity);
  const key = subtle()!.importKey(
    'jwk',
    { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(identity.secretKey), x: toBase64Url(identity.publicKey) },
    { name: 'Ed25519' },
    false,
    ['sign'],
  );
  signingKeys.set(identity.secretKey, { bytes, key });
  return key;
}

/**
 * An identity whose public key is not the one its secret key derives would sign for one key
 * while naming another (noble signs for the seed's own key; libp2p would announce the PeerId of
 * the wrong half). Costs one scalar multiplication: done where a key is imported, not per call.
 */
function checkHalvesMatch(identity: Identity): void {
  if (!equalBytes(ed25519.getPublicKey(identity.secretKey), identity.publicKey)) {
    throw new CryptoError('INVALID_INPUT', '"identity.publicKey" does not belong to "identity.secretKey"');
  }
}

/** Checks an Identity at the door (shape and lengths; that its halves match: checkHalvesMatch). */
export function checkIdentity(identity: Identity): void {
  if (typeof identity !== 'object' || identity === null) throw new CryptoError('INVALID_INPUT', '"identity" expected an Identity');
  assertBytes(identity.secretKey, 'identity.secretKey', 32);
  assertBytes(identity.publicKey, 'identity.publicKey', 32);
}

/** Ed25519 signature of `message` (RFC 8032, deterministic). WebCrypto where present, else noble. */
export async function sign(identity: Identity, message: Uint8Array): Promise<Signature> {
  checkIdentity(identity);
  assertBytes(message, 'message');
  if (await hasWebCryptoEd25519()) {
    const key = await signingKey(identity);
    return new Uint8Array(await subtle()!.sign({ name: 'Ed25519' }, key, message as Uint8Array<ArrayBuffer>)) as Signature;
  }
  return signReference(identity, message);
}

/*
 * One verdict on every platform.
 *
 * RFC 8032 §5.1.7 lets a verifier check either the cofactored equation [8][S]B = [8]R + [8][k]A'
 * or the cofactorless [S]B = R + [k]A', and implementations differ on non-canonical encodings and
 * small-order points ("Taming the many EdDSAs", Chalkias et al. 2020). Measured here: Node's
 * WebCrypto (OpenSSL) and noble's strict verify disagreed on 12 of the 196 ZIP-215 vectors and 5
 * of the 12 edge cases of that paper. A grant log must give the same verdict on every peer, so
 * both our paths first apply the same rules, in our code, and then check the same equation:
 *   1. S < L (RFC 8032 §5.1.7 step 1; also rules out malleable signatures);
 *   2. A is a canonical encoding (y < p, and not x = 0 with the sign bit set; §5.1.3) of a point
 *      that is not of small order (a small-order key would make one signature valid for many
 *      messages, and no honest key generation yields one);
 *   3. R is a canonical encoding;
 *   4. the cofactorless equation, checked as encode([S]B − [k]A) = R, which is what OpenSSL,
 *      BoringSSL and the fallback below compute.
 */

/** The group order L of Ed25519 (RFC 8032 §5.1) and the field prime p = 2^255 − 19. */
const ORDER_L = ed25519.Point.Fn.ORDER;

/** `n` as 32 little-endian bytes. */
function littleEndianBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}
const ORDER_L_BYTES = littleEndianBytes(ORDER_L);

/**
 * Rule 1, S < L, on the 32 little-endian bytes of S (bytes 32..63 of the signature): compared from the most significant byte
 * (no BigInt per call: this runs once per signature of every log entry).
 */
export function scalarBelowOrder(signature: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i]!;
    const l = ORDER_L_BYTES[i]!;
    if (s !== l) return s < l;
  }
  return false; // S = L
}

/**
 * Canonical point encoding (RFC 8032 §5.1.3): y < p, and x = 0 (y = ±1) must not carry a sign
 * bit. With p = 2^255 − 19 in little-endian bytes ed ff … ff 7f: y ≥ p only when bytes 1..30 are
 * all ff, the top byte (sign bit cleared) is 7f and byte 0 is ≥ ed; y = p − 1 is ec ff … ff 7f.
 */
export function isCanonicalPointEncoding(encoded: Uint8Array): boolean {
  const top = encoded[31]! & 0x7f;
  const signBit = (encoded[31]! & 0x80) !== 0;
  let middleAllOnes = true;
  let middleAllZeros = true;
  for (let i = 1; i < 31; i++) {
    const b = encoded[i]!;
    if (b !== 0xff) middleAllOnes = false;
    if (b !== 0) middleAllZeros = false;
  }
  const first = encoded[0]!;
  if (middleAllOnes && top === 0x7f && first >= 0xed) return false; // y ≥ p
  if (!signBit) return true;
  const yIsOne = middleAllZeros && top === 0 && first === 1;
  const yIsMinusOne = middleAllOnes && top === 0x7f && first === 0xec;
  return !(yIsOne || yIsMinusOne);
}

type EdPoint = ReturnType<typeof ed25519.Point.fromBytes>;

/** The slice of node:crypto the Ed25519 path uses (typed here so the browser build needs no Node types). */
export interface NodeEd25519 {
  createPublicKey(key: { key: Uint8Array; format: 'der'; type: 'spki' }): object;
  verify(algorithm: null, data: Uint8Array, key: object, signature: Uint8Array, callback: (error: Error | null, ok: boolean) => void): void;
}

/**
 * Under Node, Ed25519 checks go through node:crypto: the same OpenSSL verification as Node's
 * WebCrypto, on the same thread pool, without WebCrypto's per-call promise, algorithm
 * normalisation and key wrapping (measured ~13% of full log verification). The browser, where it
 * is absent, uses WebCrypto; noble is the fallback and the tests' oracle. All three apply the
 * rules above first, so all three give one verdict (the tests run every vector through each).
 */
const nodeEd25519 = nodeBuiltin('node:crypto') as NodeEd25519 | undefined;

/** Which backend {@link verify} and {@link verifyBatch} use for rule 4 here. For tests and benchmarks. */
export const VERIFY_BACKEND: 'node:crypto' | 'webcrypto-or-noble' = nodeEd25519 ? 'node:crypto' : 'webcrypto-or-noble';

/** DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410 §4): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }. */
const SPKI_ED25519_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00);

/** Accepted public keys, decoded, by their hex; bounded so a flood of strangers cannot grow it. */
interface KnownKey {
  /** The decoded point, or null when rule 2 refuses the key. */
  readonly point: EdPoint | null;
  webKey?: Promise<CryptoKey | null>;
  /** The node:crypto KeyObject (null when OpenSSL refused to import it). */
  nodeKey?: object | null;
}
const knownKeys = new Map<string, KnownKey>();
const MAX_KNOWN_KEYS = 4096;

/**
 * The last lookups by key array, with a copy of the bytes they were made for: a caller that
 * verifies many signatures by one key array (a log verifier, per author) skips the hex encoding.
 * The copy is compared on every use, so an array overwritten in place is looked up afresh.
 */
const knownByArray = new WeakMap<Uint8Array, { readonly bytes: Uint8Array; readonly known: KnownKey }>();

function knownKey(publicKey: Uint8Array): KnownKey {
  const byArray = knownByArray.get(publicKey);
  if (byArray !== undefined && equalBytes(byArray.bytes, publicKey)) return byArray.known;
  const id = toHex(publicKey);
  let known = knownKeys.get(id);
  if (!known) {
    let point: EdPoint | null = null;
    try {
      const decoded = ed25519.Point.fromBytes(publicKey, false); // strict: y < p, no x = 0 with sign
      if (!decoded.isSmallOrder()) point = decoded;
    } catch {
      point = null; // not a point
    }
    if (knownKeys.size >= MAX_KNOWN_KEYS) knownKeys.clear();
    known = { point };
    knownKeys.set(id, known);
  }
  knownByArray.set(publicKey, { bytes: new Uint8Array(publicKey), known }); // a copy (a Buffer's slice() would be a view)
  return known;
}

function webCryptoKey(publicKey: Uint8Array, known: KnownKey): Promise<CryptoKey | null> {
  known.webKey ??= subtle()!
    .importKey('raw', publicKey.slice(), { name: 'Ed25519' }, false, ['verify'])
    .catch(() => null);
  return known.webKey;
}

function nodeKey(node: NodeEd25519, publicKey: Uint8Array, known: KnownKey): object | null {
  if (known.nodeKey === undefined) {
    try {
      known.nodeKey = node.createPublicKey({ key: concatBytes(SPKI_ED25519_PREFIX, publicKey), format: 'der', type: 'spki' });
    } catch {
      known.nodeKey = null;
    }
  }
  return known.nodeKey;
}

/** Rules 1 and 3 (the signature's own encoding) plus rule 2 (the key); null when they refuse. */
function admissible(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): KnownKey | null {
  assertBytes(publicKey, 'publicKey');
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  if (publicKey.length !== 32 || signature.length !== 64) return null;
  if (!scalarBelowOrder(signature)) return null;
  if (!isCanonicalPointEncoding(signature.subarray(0, 32))) return null;
  const known = knownKey(publicKey);
  return known.point ? known : null;
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** Rule 4 with noble's point arithmetic: encode([S]B − [k]A) = R, k = SHA-512(R ‖ A ‖ M) mod L. */
function cofactorlessEquation(point: EdPoint, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const r = signature.subarray(0, 32);
  const s = littleEndian(signature.subarray(32));
  const k = littleEndian(sha512(concatBytes(r, publicKey, message))) % ORDER_L;
  const check = ed25519.Point.BASE.multiplyUnsafe(s).subtract(point.multiplyUnsafe(k));
  return equalBytes(check.toBytes(), r);
}

/**
 * Verifies an Ed25519 signature (RFC 8032) by the rules above, identically on every platform:
 * S < L, canonical A and R, A not of small order, cofactorless equation. Malformed keys or
 * signatures verify as false; a non-Uint8Array input is an `INVALID_INPUT` error.
 * node:crypto under Node, else WebCrypto where it has Ed25519, else noble.
 */
export async function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (nodeEd25519) return verifyWithNode(nodeEd25519, publicKey, message, signature);
  return verifyWithWebCrypto(publicKey, message, signature);
}

/** The WebCrypto path of {@link verify} (noble where WebCrypto lacks Ed25519); exported for the cross-backend tests. */
export async function verifyWithWebCrypto(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const known = admissible(publicKey, message, signature);
  if (!known) return false;
  if (await hasWebCryptoEd25519()) {
    const key = await webCryptoKey(publicKey, known);
    if (!key) return false;
    try {
      return await subtle()!.verify({ name: 'Ed25519' }, key, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>);
    } catch {
      return false;
    }
  }
  return cofactorlessEquation(known.point!, publicKey, message, signature);
}

/** The node:crypto path of {@link verify}; exported for the cross-backend tests. */
export function verifyWithNode(node: NodeEd25519, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) => {
    try {
      checkWithNode(node, publicKey, message, signature, resolve);
    } catch (error) {
      reject(error instanceof Error ? error : new CryptoError('INVALID_INPUT', 'verification failed')); // INVALID_INPUT from the door checks: a rejected promise, as on the other path
    }
  });
}

/**
 * Starts one node:crypto check on the thread pool and calls `done` with the verdict (at once when
 * the rules refuse). Throws INVALID_INPUT synchronously for non-bytes input.
 */
function checkWithNode(node: NodeEd25519, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, done: (ok: boolean) => void): void {
  const known = admissible(publicKey, message, signature);
  const key = known === null ? null : nodeKey(node, publicKey, known);
  if (key === null) {
    done(false);
    return;
  }
  try {
    node.verify(null, message, key, signature, (error, ok) => done(!error && ok === true));
  } catch {
    done(false);
  }
}

/**
 * The reference verifier: the same rules as {@link verify}, with the equation computed by noble's
 * point arithmetic instead of OpenSSL. The fallback where WebCrypto lacks Ed25519, and the
 * tests' oracle.
 */
export function verifyReference(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const known = admissible(publicKey, message, signature);
  if (!known) return false;
  return cofactorlessEquation(known.point!, publicKey, message, signature);
}

/** The noble reference signer. */
export function signReference(identity: Identity, message: Uint8Array): Signature {
  checkIdentity(identity);
  assertBytes(message, 'message');
  checkHalvesMatch(identity);
  return ed25519.sign(message, identity.secretKey) as Signature;
}

/** One item of a batch verification. */
export interface SignedMessage {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

/** How many verifications are kept in flight at once (measured: 64 saturates WebCrypto here). */
const VERIFY_CONCURRENCY = 64;

/** A void check (not a type guard), so `items` keeps its element type below. */
function checkArray(items: unknown): void {
  if (!Array.isArray(items)) throw new CryptoError('INVALID_INPUT', '"items" expected an array of SignedMessage');
}

function checkItems(items: readonly SignedMessage[]): void {
  checkArray(items);
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as unknown;
    if (typeof item !== 'object' || item === null) throw new CryptoError('INVALID_INPUT', `"items[${i}]" expected a SignedMessage`);
  }
}

/**
 * Verifies many signatures, keeping up to 64 checks in flight on the thread pool; results in
 * input order. Same rules and verdicts as {@link verify}.
 */
export async function verifyBatch(items: readonly SignedMessage[]): Promise<boolean[]> {
  checkItems(items);
  if (nodeEd25519) return verifyBatchWithNode(nodeEd25519, items);
  return verifyBatchWithWebCrypto(items);
}

/** The WebCrypto path of {@link verifyBatch}: 64 promises in flight. Exported for the cross-backend tests and benchmarks. */
export async function verifyBatchWithWebCrypto(items: readonly SignedMessage[]): Promise<boolean[]> {
  checkItems(items);
  const results = new Array<boolean>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const item = items[i]!;
      results[i] = await verifyWithWebCrypto(item.publicKey, item.message, item.signature);
    }
  };
  await Promise.all(Array.from({ length: Math.min(VERIFY_CONCURRENCY, items.length) }, worker));
  return results;
}

/**
 * The node:crypto path of {@link verifyBatch}: one promise for the batch, each completion
 * callback starting the next check (no promise per signature). Exported for the cross-backend tests.
 */
export function verifyBatchWithNode(node: NodeEd25519, items: readonly SignedMessage[]): Promise<boolean[]> {
  checkItems(items);
  const results = new Array<boolean>(items.length);
  if (items.length === 0) return Promise.resolve(results);
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    let inFlight = 0;
    let pumping = false;
    const finish = (i: number, ok: boolean): void => {
      results[i] = ok;
      inFlight--;
      if (++done === items.length) resolve(results);
      else pump();
    };
    // A loop, not recursion: refused items complete synchronously, and a batch of many of them
    // must not grow the stack.
    const pump = (): void => {
      if (pumping) return;
      pumping = true;
      try {
        while (inFlight < VERIFY_CONCURRENCY && next < items.length) {
          const i = next++;
          const item = items[i]!;
          inFlight++;
          checkWithNode(node, item.publicKey, item.message, item.signature, (ok) => finish(i, ok));
        }
      } catch (error) {
        next = items.length; // start nothing more
        reject(error instanceof Error ? error : new CryptoError('INVALID_INPUT', 'verification failed'));
      } finally {
        pumping = false;
      }
    };
    pump();
  });
}

/** Verifies a signature by the key a `did:key` names. A malformed did is a `BAD_DID` error. */
export async function verifyByDid(did: string, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return verify(publicKeyFromDid(did), message, signature);
}

/** The 64-byte secret‖public form libp2p's `privateKeyFromRaw` takes. */
export function libp2pRawPrivateKey(identity: Identity): Uint8Array {
  checkIdentity(identity);
  checkHalvesMatch(identity);
  return concatBytes(identity.secretKey, identity.publicKey);
}
