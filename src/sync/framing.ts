import type { Stream } from '@libp2p/interface';
import { lpStream, type LengthPrefixedStream, type LengthPrefixedStreamOpts } from '@libp2p/utils';
import { z } from 'zod';
import { decodeCanonical, encodeCanonical } from '../crypto/index.js';
import { SyncError, describeError, isSyncErrorCode, type SyncErrorCode } from './errors.js';

/** The wire version every message of every protocol carries in its `v` field. */
export const WIRE_VERSION = 1;

/** Largest reason text an `end` message may carry. */
export const MAX_REASON_CHARS = 200;

/**
 * Asked with the length a frame's prefix announces, before any byte of its body is read: throw a
 * {@link SyncError} (e.g. LIMIT_REACHED) to refuse it. The error is what the read throws.
 */
export type FrameAdmission = (claimedBytes: number) => void;

/** Options of one {@link FramedStream.read}. */
export interface ReadOptions {
  /** @default the stream's readTimeoutMs */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Checks the announced length of this frame before its body is buffered. */
  readonly admit?: FrameAdmission;
}

/** Bounds of one framed stream. Each protocol sets its own in its constants.ts. */
export interface FrameLimits {
  /** Largest message (one length-prefixed frame) accepted or sent, in bytes. */
  readonly maxMessageBytes: number;
  /** How long one read may wait for the remote, in ms. */
  readonly readTimeoutMs: number;
}

/**
 * The message that ends any exchange with a reason: `code` is a {@link SyncErrorCode}, `detail` a
 * short text safe to log (never content, keys or tokens).
 */
export interface EndMessage {
  readonly v: 1;
  readonly t: 'end';
  readonly code: string;
  readonly detail: string;
}

const endSchema = z.object({
  v: z.literal(WIRE_VERSION),
  t: z.literal('end'),
  code: z.string().max(64),
  detail: z.string().max(MAX_REASON_CHARS),
});

const envelopeSchema = z.object({ v: z.number(), t: z.string().max(32) }).loose();

/** A zod schema for a byte string of at most `max` bytes. */
export function bytesMax(max: number): z.ZodType<Uint8Array> {
  return z.instanceof(Uint8Array).refine((b) => b.length <= max, { message: `longer than ${max} bytes` });
}

/**
 * One protocol stream as a sequence of versioned, size-bounded messages: DAG-CBOR (canonical,
 * strict) in varint length-prefixed frames. Every read is bounded in size (the length prefix is
 * checked before any byte of the body is buffered) and in time, and validated against a schema
 * before the caller sees it. A remote's `end` message surfaces as a {@link SyncError} with the
 * remote's code.
 */
export class FramedStream {
  readonly stream: Stream;
  private readonly lp: LengthPrefixedStream<Stream>;
  private readonly limits: FrameLimits;
  /** The admission check of the read in progress (the length decoder consults it). */
  private admit: FrameAdmission | undefined;

  constructor(stream: Stream, limits: FrameLimits) {
    if (!(limits.maxMessageBytes > 0) || !(limits.readTimeoutMs > 0)) {
      throw new SyncError('INVALID_INPUT', 'frame limits must be positive');
    }
    this.stream = stream;
    this.limits = limits;
    // maxBufferSize must be raised with maxDataLength: lpStream buffers 4 MiB by default whatever
    // maxDataLength says (STACK.md, measured).
    this.lp = lpStream(stream, {
      maxDataLength: limits.maxMessageBytes,
      maxBufferSize: limits.maxMessageBytes + 16,
      lengthDecoder: (prefix) => this.decodeLength(prefix),
    });
  }

  /**
   * Reads the next message and validates it with `schema`. Throws {@link SyncError}:
   * MESSAGE_TOO_LARGE, MALFORMED_MESSAGE, UNSUPPORTED_VERSION, TIMEOUT, STREAM_CLOSED, or the
   * remote's own code when it ended the exchange.
   */
  async read<T>(schema: z.ZodType<T>, options: ReadOptions = {}): Promise<T> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.limits.readTimeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    let bytes: Uint8Array;
    this.admit = options.admit;
    try {
      bytes = (await this.lp.read({ signal })).subarray();
    } catch (error) {
      throw readFailure(error, timeout.aborted);
    } finally {
      this.admit = undefined;
    }
    return parseMessage(bytes, schema, this.limits.maxMessageBytes);
  }

  /**
   * The varint length prefix (unsigned LEB128, as lpStream writes it), checked against the limit
   * and the read's admission before lpStream reads the body. A RangeError asks lpStream for
   * another prefix byte.
   */
  private decodeLength(prefix: Parameters<LengthPrefixedStreamOpts['lengthDecoder']>[0]): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < prefix.byteLength; i++) {
      const byte = prefix.get(i);
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (value > this.limits.maxMessageBytes) {
          throw new SyncError('MESSAGE_TOO_LARGE', `the remote announced a frame of ${value} bytes, over the limit of ${this.limits.maxMessageBytes}`);
        }
        this.admit?.(value);
        return value;
      }
      // lpStream retries on RangeError without bounding the prefix: an endless run of
      // continuation bytes must be refused here.
      if (i + 1 >= varintLength(this.limits.maxMessageBytes)) {
        throw new SyncError('MESSAGE_TOO_LARGE', `the remote's length prefix runs past ${i + 1} bytes, more than any frame under the limit needs`);
      }
      scale *= 128;
    }
    throw new RangeError('length prefix incomplete');
  }

  /** Encodes and writes one message; refuses (INVALID_INPUT) a message over the limit. */
  async write<M extends { v: 1; t: string }>(message: M, options: { signal?: AbortSignal } = {}): Promise<void> {
    const bytes = encodeCanonical(message);
    if (bytes.length > this.limits.maxMessageBytes) {
      throw new SyncError('MESSAGE_TOO_LARGE', `outgoing '${message.t}' message of ${bytes.length} bytes exceeds ${this.limits.maxMessageBytes}`);
    }
    try {
      await this.lp.write(bytes, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      throw new SyncError('STREAM_CLOSED', `write failed: ${describeError(error)}`, { cause: error });
    }
  }

  /**
   * Ends the exchange with a reason the remote can read, then closes. Never throws: the remote
   * may already be gone, and the caller is ending anyway.
   */
  async end(code: SyncErrorCode, detail: string): Promise<void> {
    const message: EndMessage = { v: WIRE_VERSION, t: 'end', code, detail: detail.slice(0, MAX_REASON_CHARS) };
    try {
      await this.lp.write(encodeCanonical(message), { signal: AbortSignal.timeout(2_000) });
      await this.stream.close({ signal: AbortSignal.timeout(2_000) });
    } catch (error) {
      this.stream.abort(error instanceof Error ? error : new Error(describeError(error)));
    }
  }

  /** Closes the stream gracefully (both directions), or aborts it when that fails. */
  async close(): Promise<void> {
    try {
      await this.stream.close({ signal: AbortSignal.timeout(2_000) });
    } catch (error) {
      this.stream.abort(error instanceof Error ? error : new Error(describeError(error)));
    }
  }

  /** Resets the stream at once. */
  abort(reason: SyncError): void {
    this.stream.abort(reason);
  }
}

/**
 * Decodes one frame's bytes: canonical DAG-CBOR, then the envelope (`v`, `t`), then an `end`
 * from the remote, then the caller's schema. Exported for the hostile-input tests.
 */
export function parseMessage<T>(bytes: Uint8Array, schema: z.ZodType<T>, maxBytes: number): T {
  let value: unknown;
  try {
    value = decodeCanonical(bytes, maxBytes);
  } catch (cause) {
    throw new SyncError('MALFORMED_MESSAGE', 'message is not canonical DAG-CBOR', { cause });
  }
  const envelope = envelopeSchema.safeParse(value);
  if (!envelope.success) throw new SyncError('MALFORMED_MESSAGE', 'message lacks a version and a type');
  if (envelope.data.v !== WIRE_VERSION) {
    throw new SyncError('UNSUPPORTED_VERSION', `message version ${String(envelope.data.v)} (this node speaks ${WIRE_VERSION})`);
  }
  if (envelope.data.t === 'end') {
    const end = endSchema.safeParse(value);
    if (!end.success) throw new SyncError('MALFORMED_MESSAGE', 'malformed end message');
    const code = isSyncErrorCode(end.data.code) ? end.data.code : 'REMOTE_ERROR';
    throw new RemoteEndError(code, end.data.detail);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
    throw new SyncError('MALFORMED_MESSAGE', `'${envelope.data.t}' message rejected at ${where}`);
  }
  return parsed.data;
}

/** The remote ended the exchange itself, with this code and detail. */
export class RemoteEndError extends SyncError {
  readonly remote = true;
  constructor(code: SyncErrorCode, detail: string) {
    super(code, `remote ended the exchange: ${detail}`);
  }
}

/** Bytes of the varint (unsigned LEB128) encoding of `value`. */
function varintLength(value: number): number {
  let length = 1;
  for (let v = value; v >= 128; v = Math.floor(v / 128)) length++;
  return length;
}

function readFailure(error: unknown, timedOut: boolean): SyncError {
  // Refusals of the length decoder (the limit, an admission check) pass through as they are.
  if (error instanceof SyncError) return error;
  if (timedOut) return new SyncError('TIMEOUT', 'the remote did not answer in time', { cause: error });
  const name = error instanceof Error ? error.name : '';
  if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
    return new SyncError('MESSAGE_TOO_LARGE', 'the remote announced a frame over the limit', { cause: error });
  }
  if (name === 'InvalidMessageLengthError') return new SyncError('MALFORMED_MESSAGE', 'bad frame length prefix', { cause: error });
  if (name === 'StreamBufferError') return new SyncError('MESSAGE_TOO_LARGE', 'the remote overflowed the read buffer', { cause: error });
  if (name === 'AbortError' || name === 'TimeoutError') return new SyncError('TIMEOUT', 'read aborted', { cause: error });
  return new SyncError('STREAM_CLOSED', `stream ended: ${describeError(error)}`, { cause: error });
}
