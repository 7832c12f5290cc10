import { base58btc } from 'multiformats/bases/base58';
import { CryptoError } from './errors.js';

/**
 * Checks at the door that `value` is a Uint8Array (of `length` bytes if given).
 * The error names `label`, never the value.
 */
export function assertBytes(value: unknown, label: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new CryptoError('INVALID_INPUT', `"${label}" expected Uint8Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new CryptoError('INVALID_INPUT', `"${label}" expected ${length} bytes, got ${value.length}`);
  }
}

/** Checks that `value` is a string (non-empty unless `allowEmpty`). */
export function assertString(value: unknown, label: string, allowEmpty = false): asserts value is string {
  if (typeof value !== 'string') throw new CryptoError('INVALID_INPUT', `"${label}" expected string, got ${describe(value)}`);
  if (!allowEmpty && value.length === 0) throw new CryptoError('INVALID_INPUT', `"${label}" must not be empty`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof ArrayBuffer) return 'ArrayBuffer';
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  return typeof value;
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const [i, part] of parts.entries()) {
    assertBytes(part, `parts[${i}]`);
    length += part.length;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Constant-time equality of two byte arrays (time depends on length only). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  assertBytes(a, 'a');
  assertBytes(b, 'b');
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Fresh random bytes from the platform's CSPRNG. */
export function randomBytes(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0 || length > 65_536) {
    throw new CryptoError('INVALID_INPUT', `"length" expected an integer 0..65536, got ${length}`);
  }
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 encoding of a string. */
export function utf8(text: string): Uint8Array {
  // TextEncoder would silently encode String(null) = "null": refuse anything but a string.
  assertString(text, 'text', true);
  return encoder.encode(text);
}

/** Strict UTF-8 decoding (invalid sequences throw). */
export function fromUtf8(bytes: Uint8Array): string {
  assertBytes(bytes, 'bytes');
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    throw new CryptoError('INVALID_INPUT', '"bytes" are not valid UTF-8', { cause });
  }
}

const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/**
 * Lower-case hex. Through a table of byte pairs, not a format per byte: an import writes a hash,
 * a vault id and a slot for every record (10k records: ~25 ms less).
 */
export function toHex(bytes: Uint8Array): string {
  assertBytes(bytes, 'bytes');
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_PAIRS[bytes[i]!]!;
  return out;
}

/** Parses lower- or upper-case hex of even length. */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new CryptoError('INVALID_INPUT', '"hex" expected an even-length hexadecimal string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64URL.length; i++) B64URL_INDEX[B64URL.charCodeAt(i)] = i;

/** base64url without padding (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  assertBytes(bytes, 'bytes');
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]!;
  }
  return out;
}

/**
 * Strict base64url decoding: no padding, no whitespace, no other alphabet, and the unused
 * trailing bits must be zero (so every byte string has exactly one accepted encoding).
 */
export function fromBase64Url(text: string, label = 'base64url'): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 === 1) {
    throw new CryptoError('INVALID_INPUT', `"${label}" is not valid base64url`);
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64URL_INDEX[c]! : -1;
    if (v < 0) throw new CryptoError('INVALID_INPUT', `"${label}" is not valid base64url`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw new CryptoError('INVALID_INPUT', `"${label}" is not canonical base64url`);
  return out;
}

/** base58btc without the multibase prefix. */
export function toBase58(bytes: Uint8Array): string {
  assertBytes(bytes, 'bytes');
  return base58btc.baseEncode(bytes);
}

/** Parses base58btc without the multibase prefix. */
export function fromBase58(text: string, label = 'base58'): Uint8Array {
  if (typeof text !== 'string') throw new CryptoError('INVALID_INPUT', `"${label}" expected string, got ${describe(text)}`);
  try {
    return base58btc.baseDecode(text);
  } catch (cause) {
    throw new CryptoError('INVALID_INPUT', `"${label}" is not valid base58btc`, { cause });
  }
}
