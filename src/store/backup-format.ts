import { checkKdfParams, concatBytes, decodeCanonical, encodeCanonical, sha256, utf8, type KdfParams } from '../crypto/index.js';
import { StoreError } from './errors.js';
import { MAX_STORAGE_KEY_LENGTH, MAX_STORAGE_VALUE_BYTES } from './storage-input.js';
import type { StorageEntry } from './storage.js';

/**
 * The backup file: everything a vault holds, sealed under the passphrase key.
 *
 * ```
 * "PVBACKUP" (8 bytes) ‖ u8 file version (1) ‖ u32be n ‖ public header (n bytes, DAG-CBOR)
 * ‖ chunk 0 ‖ … ‖ chunk k-1          each chunk: u32be m ‖ m bytes of AES-GCM output
 * ```
 * The public header holds the Argon2id parameters (so the passphrase key can be derived) and the
 * chunk count. The plaintext — the vault's storage entries, framed by {@link encodeEntries} — is
 * cut into {@link BACKUP_CHUNK_BYTES} chunks, each sealed with associated data naming the file
 * (hash of the public header), its index and whether it is the last, so chunks cannot be dropped,
 * reordered or moved between backups (the STREAM construction of Hoang, Reyhanitabar, Rogaway and
 * Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", 2015).
 */
export const BACKUP_MAGIC = utf8('PVBACKUP');
export const BACKUP_FILE_VERSION = 1;
export const BACKUP_HEADER_FORMAT = 'patient-vault/backup';
/** Plaintext bytes per sealed chunk (attachments are 1 MiB chunks too). */
export const BACKUP_CHUNK_BYTES = 1024 * 1024;
const MAX_PUBLIC_HEADER_BYTES = 4096;

/** The unsealed part of a backup. */
export interface BackupHeader {
  readonly createdAt: number;
  readonly kdf: KdfParams;
  readonly chunkCount: number;
}

/** A backup split into its public header and its sealed chunks (not yet opened). */
export interface ParsedBackup {
  readonly header: BackupHeader;
  readonly headerBytes: Uint8Array;
  readonly chunks: readonly Uint8Array[];
}

function badBackup(what: string, cause?: unknown): StoreError {
  return new StoreError('BAD_BACKUP', `not a usable Patient Vault backup: ${what}`, cause === undefined ? undefined : { cause });
}

/** Associated data of chunk `index`: binds it to this file, its position, and finality. */
export function chunkAssociatedData(headerBytes: Uint8Array, index: number, last: boolean): Uint8Array {
  const position = new Uint8Array(5);
  new DataView(position.buffer).setUint32(0, index);
  position[4] = last ? 1 : 0;
  return concatBytes(utf8('patient-vault/backup/chunk'), sha256(headerBytes), position);
}

export function encodeBackupHeader(header: BackupHeader): Uint8Array {
  return encodeCanonical({ format: BACKUP_HEADER_FORMAT, createdAt: header.createdAt, kdf: { ...header.kdf }, chunkCount: header.chunkCount });
}

/** Assembles the file from its public header and sealed chunks. */
export function assembleBackup(headerBytes: Uint8Array, chunks: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [BACKUP_MAGIC, new Uint8Array([BACKUP_FILE_VERSION]), u32(headerBytes.length), headerBytes];
  for (const chunk of chunks) parts.push(u32(chunk.length), chunk);
  return concatBytes(...parts);
}

/** Splits a backup file, checking every length against what is there (hostile input). */
export function parseBackup(file: unknown): ParsedBackup {
  if (!(file instanceof Uint8Array)) throw new StoreError('INVALID_INPUT', '"backup" expected Uint8Array');
  const reader = new Reader(file);
  const magic = reader.bytes(BACKUP_MAGIC.length, 'magic');
  if (!magic.every((b, i) => b === BACKUP_MAGIC[i])) throw badBackup('it does not start with PVBACKUP');
  const version = reader.bytes(1, 'file version')[0];
  if (version !== BACKUP_FILE_VERSION) throw badBackup(`file version ${version} is not supported (this code reads ${BACKUP_FILE_VERSION})`);
  const headerLength = reader.u32('header length');
  if (headerLength > MAX_PUBLIC_HEADER_BYTES) throw badBackup('public header too large');
  const headerBytes = reader.bytes(headerLength, 'public header');
  let decoded: unknown;
  try {
    decoded = decodeCanonical(headerBytes, MAX_PUBLIC_HEADER_BYTES);
  } catch (cause) {
    throw badBackup('public header is not canonical DAG-CBOR', cause);
  }
  const header = checkBackupHeader(decoded);
  const chunks: Uint8Array[] = [];
  while (!reader.done()) {
    if (chunks.length >= header.chunkCount) throw badBackup('more chunks than its header says');
    const length = reader.u32('chunk length');
    if (length > BACKUP_CHUNK_BYTES + 64) throw badBackup('chunk too large');
    chunks.push(reader.bytes(length, 'chunk'));
  }
  if (chunks.length !== header.chunkCount) throw badBackup('truncated: fewer chunks than its header says');
  return { header, headerBytes, chunks };
}

function checkBackupHeader(value: unknown): BackupHeader {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badBackup('public header is not a map');
  const { format, createdAt, kdf, chunkCount } = value as Record<string, unknown>;
  if (format !== BACKUP_HEADER_FORMAT) throw badBackup('public header has the wrong format');
  if (typeof createdAt !== 'number' || !Number.isSafeInteger(createdAt) || createdAt < 0) throw badBackup('createdAt is not a timestamp');
  if (typeof chunkCount !== 'number' || !Number.isSafeInteger(chunkCount) || chunkCount < 1) throw badBackup('chunkCount is not a positive integer');
  try {
    checkKdfParams(kdf as KdfParams, true);
  } catch (cause) {
    throw badBackup('kdf parameters are out of range', cause);
  }
  return { createdAt, kdf: kdf as KdfParams, chunkCount };
}

/**
 * Frames storage entries: per entry u32be key length in UTF-16 code units ‖ key as UTF-16BE ‖
 * u32be value length ‖ value. UTF-16 keeps every key exactly (UTF-8 would alter lone surrogates).
 */
export function encodeEntries(entries: readonly StorageEntry[]): Uint8Array {
  let size = 0;
  for (const { key, value } of entries) size += 8 + key.length * 2 + value.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let o = 0;
  for (const { key, value } of entries) {
    view.setUint32(o, key.length);
    o += 4;
    for (let i = 0; i < key.length; i++, o += 2) view.setUint16(o, key.charCodeAt(i));
    view.setUint32(o, value.length);
    o += 4;
    out.set(value, o);
    o += value.length;
  }
  return out;
}

/** Inverse of {@link encodeEntries}, bounds-checked. */
export function decodeEntries(bytes: Uint8Array): StorageEntry[] {
  const reader = new Reader(bytes);
  const entries: StorageEntry[] = [];
  while (!reader.done()) {
    const units = reader.u32('key length');
    if (units === 0 || units > MAX_STORAGE_KEY_LENGTH) throw badBackup('an entry key has an impossible length');
    const raw = reader.bytes(units * 2, 'key');
    const codes = new Array<number>(units);
    for (let i = 0; i < units; i++) codes[i] = (raw[2 * i]! << 8) | raw[2 * i + 1]!;
    const key = String.fromCharCode(...codes);
    const length = reader.u32('value length');
    if (length > MAX_STORAGE_VALUE_BYTES) throw badBackup('an entry value is too large');
    entries.push({ key, value: reader.bytes(length, 'value').slice() });
  }
  return entries;
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

class Reader {
  #offset = 0;
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  done(): boolean {
    return this.#offset === this.#bytes.length;
  }
  bytes(length: number, what: string): Uint8Array {
    if (length > this.#bytes.length - this.#offset) throw badBackup(`truncated in ${what}`);
    const out = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }
  u32(what: string): number {
    const b = this.bytes(4, what);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }
}
