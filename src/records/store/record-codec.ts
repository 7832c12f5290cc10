/**
 * How one version of one record becomes the bytes stored in a scope document, and back.
 *
 * Value layout: `format (1 byte) ‖ key epoch (uint32, big-endian) ‖ AES-256-GCM output`, where the
 * AEAD output is `nonce ‖ ciphertext ‖ tag` (src/crypto `seal`). The epoch is in the clear so that a
 * reader knows which key to use and a node without keys can still store and merge the value.
 *
 * Associated data binds the value to the vault, the scope, the record's slot (the keyed hash of its
 * record key) and the epoch: a value copied to another vault, scope or slot, or relabelled with
 * another epoch, fails to open. After opening, the envelope's record key must hash to the slot it
 * was found at, which closes the loop from the slot back to the record id.
 */
import { equalBytes, fromUtf8, keyedHasher, open, sealMany, toHex, utf8, type Digest, type SymmetricKey } from '../../crypto/index.js';
import {
  ENVELOPE_FORMAT,
  MAX_ENVELOPE_BYTES,
  RECORD_VALUE_FORMAT,
  RECORD_VALUE_HEADER_BYTES,
  SHARD_HEX_DIGITS,
  SLOT_BYTES,
} from './constants.js';
import { RecordStoreError } from './errors.js';
import { epochKey, type ScopeKeys } from './keyring.js';
import type { AttachmentRef, JsonObject, Provenance, RecordEnvelope, RecordKey, ScopeName, SealedResource, Slot } from './types.js';

const RECORD_KEY = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})$/;
const HEX = /^[0-9a-f]+$/;

/** What sealing and opening need to know about where a value lives. */
export interface SealContext {
  readonly vaultId: string;
  readonly scope: ScopeName;
  readonly keys: ScopeKeys;
}

/** Checks and brands `Type/id` (FHIR id: 1–64 of `A–Z a–z 0–9 - .`). */
export function asRecordKey(value: unknown): RecordKey {
  if (typeof value !== 'string' || !RECORD_KEY.test(value)) throw new RecordStoreError('INVALID_INPUT', '"key" expected ResourceType/id');
  return value as RecordKey;
}

/** Splits a record key into resource type and id. */
export function splitRecordKey(key: RecordKey): { type: string; id: string } {
  const slash = key.indexOf('/');
  return { type: key.slice(0, slash), id: key.slice(slash + 1) };
}

/**
 * Keyed hashers by index key (HMAC state set up once per key, not per record: an import hashes
 * every record key), with a copy of the key bytes compared on each use so a key array changed in
 * place never hashes under its old bytes.
 */
const hashers = new WeakMap<Uint8Array, { readonly bytes: Uint8Array; readonly hash: (data: Uint8Array) => Digest }>();

/** The slot of a record: hex of the first 128 bits of HMAC-SHA-256(index key, record key). */
export function slotOf(indexKey: SymmetricKey, key: RecordKey): Slot {
  let hasher = hashers.get(indexKey);
  if (!hasher || !equalBytes(hasher.bytes, indexKey)) {
    hasher = { bytes: indexKey.slice(), hash: keyedHasher(indexKey) };
    hashers.set(indexKey, hasher);
  }
  return toHex(hasher.hash(utf8(key)).subarray(0, SLOT_BYTES)) as Slot;
}

/** The shard of a slot: its first byte (two hex digits), so 256 shards per map. */
export function shardOf(slot: string): string {
  return slot.slice(0, SHARD_HEX_DIGITS);
}

/** True if `value` looks like a slot (32 lower-case hex digits). */
export function isSlot(value: string): value is Slot {
  return value.length === SLOT_BYTES * 2 && HEX.test(value);
}

/** The key epoch a sealed value names, without opening it. */
export function epochOf(value: Uint8Array): number {
  if (value.length < RECORD_VALUE_HEADER_BYTES || value[0] !== RECORD_VALUE_FORMAT) {
    throw new RecordStoreError('CORRUPT_RECORD', 'a record value has an unknown format');
  }
  return new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(1, false);
}

function associatedData(vaultId: string, scope: ScopeName, slot: Slot, epoch: number): Uint8Array {
  // Newline-separated: none of the parts can contain one (vault id, scope and slot are checked).
  return utf8(`patient-vault/record/${RECORD_VALUE_FORMAT}\n${vaultId}\n${scope}\n${slot}\n${epoch}`);
}

/** Seals one version under the scope's current epoch. */
export async function sealRecord(ctx: SealContext, slot: Slot, envelope: RecordEnvelope): Promise<SealedResource> {
  const [sealed] = await sealRecords(ctx, [{ slot, envelope }]);
  return sealed!;
}

/**
 * Seals many versions of one scope under its current epoch, in order: one fresh random nonce and
 * one associated data (vault, scope, slot, epoch) each, the nonces drawn and the key set up once
 * for all (src/crypto `sealMany`).
 */
export async function sealRecords(ctx: SealContext, jobs: readonly { slot: Slot; envelope: RecordEnvelope }[]): Promise<SealedResource[]> {
  const epoch = ctx.keys.current;
  const items = jobs.map(({ slot, envelope }) => {
    // Sealed as text (UTF-8 inside sealMany). Its UTF-8 length is at least its UTF-16 length and
    // at most three times it: encode to measure only when the bound is in between.
    const plaintext = JSON.stringify(envelope);
    if (plaintext.length > MAX_ENVELOPE_BYTES || (plaintext.length * 3 > MAX_ENVELOPE_BYTES && utf8(plaintext).length > MAX_ENVELOPE_BYTES)) {
      throw new RecordStoreError('TOO_LARGE', `record ${envelope.key} is over ${MAX_ENVELOPE_BYTES} bytes without its attachments`);
    }
    return { plaintext, associatedData: associatedData(ctx.vaultId, ctx.scope, slot, epoch) };
  });
  const header = new Uint8Array(RECORD_VALUE_HEADER_BYTES);
  header[0] = RECORD_VALUE_FORMAT;
  new DataView(header.buffer).setUint32(1, epoch, false);
  return (await sealMany(epochKey(ctx.keys, ctx.scope, epoch), items, header)) as SealedResource[];
}

/**
 * Opens a value found at `slot` and checks the envelope inside. Every failure is a typed error:
 * `UNKNOWN_EPOCH` (no key for it here), `CORRUPT_RECORD` (does not authenticate or does not decode).
 */
export async function openRecord(ctx: SealContext, slot: Slot, value: Uint8Array): Promise<RecordEnvelope> {
  const epoch = epochOf(value);
  const key = epochKey(ctx.keys, ctx.scope, epoch);
  let plaintext: Uint8Array;
  try {
    plaintext = await open(key, value.subarray(RECORD_VALUE_HEADER_BYTES), associatedData(ctx.vaultId, ctx.scope, slot, epoch));
  } catch (cause) {
    throw new RecordStoreError('CORRUPT_RECORD', `a record value in scope ${ctx.scope} failed authentication`, { cause });
  }
  const envelope = parseEnvelope(plaintext, ctx.scope);
  if (slotOf(ctx.keys.indexKey, envelope.key) !== slot) {
    throw new RecordStoreError('CORRUPT_RECORD', `a record value in scope ${ctx.scope} is not at the slot of its record key`);
  }
  return envelope;
}

function parseEnvelope(plaintext: Uint8Array, scope: ScopeName): RecordEnvelope {
  const bad = (what: string) => new RecordStoreError('CORRUPT_RECORD', `a record envelope in scope ${scope} ${what}`);
  if (plaintext.length > MAX_ENVELOPE_BYTES) throw bad('is too large');
  let raw: unknown;
  try {
    raw = JSON.parse(fromUtf8(plaintext));
  } catch {
    throw bad('is not JSON');
  }
  if (!isJsonObject(raw)) throw bad('is not an object');
  if (typeof raw.f !== 'number') throw bad('has no format');
  if (raw.f > ENVELOPE_FORMAT) throw new RecordStoreError('NEWER_FORMAT', `a record in scope ${scope} was written by a newer version of Patient Vault`);
  if (typeof raw.key !== 'string' || !RECORD_KEY.test(raw.key)) throw bad('has a malformed key');
  const key = raw.key as RecordKey;
  if (!isHex(raw.ver)) throw bad('has a malformed version id');
  if (typeof raw.n !== 'number' || !Number.isSafeInteger(raw.n) || raw.n < 1) throw bad('has a malformed version number');
  if (!Array.isArray(raw.prev) || !raw.prev.every(isHex)) throw bad('has malformed parents');
  if (typeof raw.at !== 'string') throw bad('has no time');
  if (!isJsonObject(raw.resource)) throw bad('has no resource');
  const { type, id } = splitRecordKey(key);
  if (raw.resource.resourceType !== type || raw.resource.id !== id) throw bad('holds a resource that does not match its key');
  if (!Array.isArray(raw.src) || !raw.src.every((s) => typeof s === 'string')) throw bad('has malformed source keys');
  if (!isHex(raw.hash)) throw bad('has a malformed content hash');
  const envelope: RecordEnvelope = {
    f: raw.f,
    key,
    ver: raw.ver,
    n: raw.n,
    prev: raw.prev,
    at: raw.at,
    resource: raw.resource,
    src: raw.src,
    hash: raw.hash,
  };
  if (raw.prov !== undefined) {
    if (!isProvenance(raw.prov)) throw bad('has malformed provenance');
    envelope.prov = raw.prov;
  }
  if (raw.rst !== undefined) {
    if (raw.rst !== true) throw bad('has a malformed restriction flag');
    envelope.rst = true;
  }
  if (raw.att !== undefined) {
    if (!Array.isArray(raw.att) || !raw.att.every(isAttachmentRef)) throw bad('has malformed attachment references');
    envelope.att = raw.att;
  }
  return envelope;
}

/** True for a plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHex(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 128 && HEX.test(value);
}

function isProvenance(value: unknown): value is Provenance {
  if (!isJsonObject(value)) return false;
  return (
    (value.source === 'fhir-json' || value.source === 'shc') &&
    typeof value.verified === 'boolean' &&
    typeof value.importedAt === 'string' &&
    (value.issuer === undefined || typeof value.issuer === 'string') &&
    (value.verifiedAt === undefined || typeof value.verifiedAt === 'string') &&
    (value.fileName === undefined || typeof value.fileName === 'string')
  );
}

function isAttachmentRef(value: unknown): value is AttachmentRef {
  if (!isJsonObject(value)) return false;
  return (
    typeof value.path === 'string' &&
    typeof value.size === 'number' &&
    isHex(value.sha256) &&
    Array.isArray(value.chunks) &&
    value.chunks.every(
      (c) => isJsonObject(c) && isHex(c.addr) && typeof c.key === 'string' && typeof c.size === 'number' && Number.isSafeInteger(c.size) && c.size >= 0,
    )
  );
}
