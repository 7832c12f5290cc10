/**
 * Sealing many vault records in one call: the fast path of {@link Vault.batchSealed}.
 *
 * Each record is still its own AES-256-GCM ciphertext with its own fresh random 96-bit nonce and
 * associated data naming its storage key, byte for byte what `seal` of src/crypto produces
 * (nonce ‖ ct ‖ tag), behind the record format byte. What a batch shares is only set-up work that
 * per-record `seal` calls repeated (profile of `store_put_10k`, 10,000 × 2 KB):
 * - the nonces come from one `getRandomValues` call per batch (~5 µs per 12-byte call under Node,
 *   as much as the cipher itself); every nonce is still 96 fresh random bits;
 * - under Node the record key is imported once as a `KeyObject` for the unlocked session (a raw key
 *   passed to `createCipheriv` is re-imported on every call), and the cipher runs synchronously
 *   (no promise per record);
 * - the associated data is encoded into one scratch buffer instead of two allocations and a concat
 *   per record, and each record is written straight into its output (no re-copy to prepend the
 *   format byte).
 *
 * This sits in src/store rather than src/crypto because src/crypto was being reworked by another
 * engineer at the time; a `sealMany` there would be its natural home.
 */
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, utf8, type SymmetricKey } from '../crypto/index.js';

/** First byte of every sealed record: the record format, so a later one can coexist. */
export const RECORD_FORMAT = 1;
/** Bytes a sealed record adds to its plaintext: format byte, nonce, tag. */
export const RECORD_OVERHEAD = 1 + AEAD_NONCE_BYTES + AEAD_TAG_BYTES;
/** Prefix of each record's associated data; the UTF-8 storage key follows it. */
export const RECORD_AD_PREFIX = utf8('patient-vault/store/record\u0000');

/**
 * Sealed records of a batch are written into shared buffers of this size (a record larger than
 * that gets its own): one allocation per ~100 records of 2 KB instead of one each, which the
 * profile showed as garbage-collector time. The views are only handed to `Storage.batch`, and
 * every backend copies what it keeps (a conformance test checks it).
 */
const ARENA_BYTES = 256 * 1024;
/** `getRandomValues` fills at most 65,536 bytes per call (WebCrypto §10.1.1). */
const MAX_RANDOM_BYTES_PER_CALL = 65_536;

/** One record to seal: its full storage key (bound as associated data) and its plaintext. */
export interface RecordToSeal {
  readonly storageKey: string;
  readonly plaintext: Uint8Array;
}

/** Seals records under one record key; obtain with {@link createRecordSealer}. */
export interface RecordSealer {
  /** Seals each record (format byte ‖ nonce ‖ ciphertext ‖ tag), in order. */
  sealAll(records: readonly RecordToSeal[]): Promise<Uint8Array[]>;
}

/** The slice of node:crypto used here (typed locally so the browser build needs no Node types). */
interface NodeCrypto {
  createSecretKey(key: Uint8Array): unknown;
  createCipheriv(
    algorithm: 'aes-256-gcm',
    key: unknown,
    iv: Uint8Array,
    options: { authTagLength: number },
  ): { setAAD(aad: Uint8Array): unknown; update(data: Uint8Array): Uint8Array; final(): Uint8Array; getAuthTag(): Uint8Array };
}

/** node:crypto under Node (≥ 20.16, through getBuiltinModule so bundlers see no node: import), else undefined. */
const nodeCrypto: NodeCrypto | undefined = (() => {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return typeof proc?.getBuiltinModule === 'function' ? (proc.getBuiltinModule('node:crypto') as NodeCrypto | undefined) : undefined;
})();

const encoder = new TextEncoder();

/** Fresh random nonces for `count` records, from as few `getRandomValues` calls as allowed. */
export function freshNonces(count: number): Uint8Array {
  const nonces = new Uint8Array(count * AEAD_NONCE_BYTES);
  for (let offset = 0; offset < nonces.length; offset += MAX_RANDOM_BYTES_PER_CALL) {
    globalThis.crypto.getRandomValues(nonces.subarray(offset, offset + MAX_RANDOM_BYTES_PER_CALL));
  }
  return nonces;
}

/**
 * A sealer for `recordKey`. Under Node it seals with node:crypto (the key imported once); in the
 * browser with WebCrypto (the key imported once). Both give the same bytes for the same nonces.
 */
export function createRecordSealer(recordKey: SymmetricKey): RecordSealer {
  if (!(recordKey instanceof Uint8Array) || recordKey.length !== AEAD_KEY_BYTES) throw new TypeError(`"recordKey" expected ${AEAD_KEY_BYTES} bytes`);
  if (nodeCrypto) {
    const gcm = nodeCrypto;
    const key = gcm.createSecretKey(recordKey);
    return { sealAll: (records) => Promise.resolve(sealRecordsWithNode(gcm, key, records, freshNonces(records.length))) };
  }
  let imported: Promise<CryptoKey> | undefined;
  return {
    sealAll(records) {
      imported ??= globalThis.crypto.subtle.importKey('raw', recordKey.slice(), { name: 'AES-GCM' }, false, ['encrypt']);
      return sealRecordsWithWebCrypto(imported, records, freshNonces(records.length));
    },
  };
}

/** The associated data of the record stored under `storageKey`. */
export function recordAssociatedData(storageKey: string): Uint8Array {
  const ad = new Uint8Array(RECORD_AD_PREFIX.length + storageKey.length * 3);
  ad.set(RECORD_AD_PREFIX);
  const { written } = encoder.encodeInto(storageKey, ad.subarray(RECORD_AD_PREFIX.length));
  return ad.subarray(0, RECORD_AD_PREFIX.length + written);
}

/**
 * Seals with node:crypto, nonce i taken from `nonces` at i × 12 (exported for the cross-backend
 * tests; callers use {@link createRecordSealer}, which draws fresh nonces).
 */
export function sealRecordsWithNode(gcm: NodeCrypto, key: unknown, records: readonly RecordToSeal[], nonces: Uint8Array): Uint8Array[] {
  checkNonces(records, nonces);
  // One scratch buffer for every record's associated data: setAAD consumes it before returning.
  let scratch = new Uint8Array(RECORD_AD_PREFIX.length + 256);
  scratch.set(RECORD_AD_PREFIX);
  const out: Uint8Array[] = new Array<Uint8Array>(records.length);
  let arena = new Uint8Array(0);
  let used = 0;
  for (let i = 0; i < records.length; i++) {
    const { storageKey, plaintext } = records[i]!;
    if (RECORD_AD_PREFIX.length + storageKey.length * 3 > scratch.length) {
      scratch = new Uint8Array(RECORD_AD_PREFIX.length + storageKey.length * 3);
      scratch.set(RECORD_AD_PREFIX);
    }
    const { written } = encoder.encodeInto(storageKey, scratch.subarray(RECORD_AD_PREFIX.length));
    const nonce = nonces.subarray(i * AEAD_NONCE_BYTES, (i + 1) * AEAD_NONCE_BYTES);
    const cipher = gcm.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES });
    cipher.setAAD(scratch.subarray(0, RECORD_AD_PREFIX.length + written));
    const length = RECORD_OVERHEAD + plaintext.length;
    let sealed: Uint8Array;
    if (length > ARENA_BYTES) {
      sealed = new Uint8Array(length);
    } else {
      if (used + length > arena.length) {
        arena = new Uint8Array(ARENA_BYTES);
        used = 0;
      }
      sealed = arena.subarray(used, used + length);
      used += length;
    }
    sealed[0] = RECORD_FORMAT;
    sealed.set(nonce, 1);
    const body = cipher.update(plaintext);
    sealed.set(body, 1 + AEAD_NONCE_BYTES);
    sealed.set(cipher.final(), 1 + AEAD_NONCE_BYTES + body.length); // empty for GCM
    sealed.set(cipher.getAuthTag(), 1 + AEAD_NONCE_BYTES + plaintext.length);
    out[i] = sealed;
  }
  return out;
}

/** Seals with WebCrypto, nonce i taken from `nonces` at i × 12 (exported for the cross-backend tests). */
export async function sealRecordsWithWebCrypto(key: Promise<CryptoKey>, records: readonly RecordToSeal[], nonces: Uint8Array): Promise<Uint8Array[]> {
  checkNonces(records, nonces);
  const cryptoKey = await key;
  return Promise.all(
    records.map(async ({ storageKey, plaintext }, i) => {
      const nonce = nonces.subarray(i * AEAD_NONCE_BYTES, (i + 1) * AEAD_NONCE_BYTES);
      const body = await globalThis.crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: nonce as Uint8Array<ArrayBuffer>, additionalData: recordAssociatedData(storageKey) as Uint8Array<ArrayBuffer>, tagLength: 128 },
        cryptoKey,
        plaintext as Uint8Array<ArrayBuffer>,
      );
      const sealed = new Uint8Array(1 + AEAD_NONCE_BYTES + body.byteLength);
      sealed[0] = RECORD_FORMAT;
      sealed.set(nonce, 1);
      sealed.set(new Uint8Array(body), 1 + AEAD_NONCE_BYTES);
      return sealed;
    }),
  );
}

function checkNonces(records: readonly RecordToSeal[], nonces: Uint8Array): void {
  if (nonces.length !== records.length * AEAD_NONCE_BYTES) throw new RangeError(`expected ${records.length * AEAD_NONCE_BYTES} nonce bytes, got ${nonces.length}`);
}
