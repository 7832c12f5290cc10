/**
 * Errors a page sees from `window.patientVault.request`. Codes follow EIP-1193 §Provider Errors and
 * JSON-RPC 2.0 where one fits, plus two of our own (4290, 4900). The message is for a developer;
 * it never carries health data, keys, passphrases or another origin's state.
 */

/** Stable numeric codes of {@link ProviderRpcError}. */
export const RpcErrorCode = {
  /** The user rejected the request (EIP-1193 4001). Also: the prompt was withdrawn or timed out. */
  USER_REJECTED: 4001,
  /** The origin is not connected, or lacks the permission this method needs (EIP-1193 4100). */
  UNAUTHORIZED: 4100,
  /** The method does not exist (EIP-1193 4200). */
  UNSUPPORTED_METHOD: 4200,
  /**
   * Too many requests from this origin: the per-origin rate limit, the in-flight limit or the
   * approval queue is full. Retry later. (Ours; modelled on HTTP 429.)
   */
  RATE_LIMITED: 4290,
  /** The vault is locked or not yet created on this device: the user must unlock it first. */
  VAULT_LOCKED: 4900,
  /** The request envelope is not `{ method: string, params?: … }` (JSON-RPC 2.0). */
  INVALID_REQUEST: -32600,
  /** Parameters failed validation; `data.path` names the offending field (JSON-RPC 2.0). */
  INVALID_PARAMS: -32602,
  /** Something failed inside the extension; the message says what, never with data (JSON-RPC 2.0). */
  INTERNAL: -32603,
} as const;

/** One of {@link RpcErrorCode}'s values. */
export type RpcErrorCodeValue = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

const KNOWN_CODES: ReadonlySet<number> = new Set(Object.values(RpcErrorCode));

/** The plain shape that crosses message boundaries (structured clone drops class identity). */
export interface RpcErrorShape {
  readonly code: RpcErrorCodeValue;
  readonly message: string;
  readonly data?: RpcErrorData;
}

/** Extra, non-sensitive detail: which field was invalid, or when to retry. */
export interface RpcErrorData {
  /** Path of the invalid field, e.g. `scopes.2`. */
  readonly path?: string;
  /** Milliseconds after which a rate-limited call may succeed. */
  readonly retryAfterMs?: number;
  /** A lower layer's stable error code, e.g. `INVALID_RESOURCE`. */
  readonly reason?: string;
}

/** An error returned to a page, shaped like EIP-1193's `ProviderRpcError`. */
export class ProviderRpcError extends Error {
  override readonly name = 'ProviderRpcError';
  readonly code: RpcErrorCodeValue;
  readonly data: RpcErrorData | undefined;

  constructor(code: RpcErrorCodeValue, message: string, data?: RpcErrorData, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.data = data;
  }

  /** The cloneable form sent over messages. */
  toJSON(): RpcErrorShape {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }

  /** Rebuilds an error from its cloneable form; anything unrecognised becomes an INTERNAL error. */
  static fromShape(value: unknown): ProviderRpcError {
    if (typeof value === 'object' && value !== null) {
      const { code, message, data } = value as { code?: unknown; message?: unknown; data?: unknown };
      if (typeof code === 'number' && KNOWN_CODES.has(code) && typeof message === 'string') {
        return new ProviderRpcError(code as RpcErrorCodeValue, message.slice(0, 500), cleanData(data));
      }
    }
    return new ProviderRpcError(RpcErrorCode.INTERNAL, 'Patient Vault returned a malformed error');
  }
}

function cleanData(data: unknown): RpcErrorData | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { path, retryAfterMs, reason } = data as Record<string, unknown>;
  const out: { path?: string; retryAfterMs?: number; reason?: string } = {};
  if (typeof path === 'string') out.path = path.slice(0, 200);
  if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs)) out.retryAfterMs = retryAfterMs;
  if (typeof reason === 'string') out.reason = reason.slice(0, 64);
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Shorthands used across the layer. */
export const rpcErrors = {
  userRejected: (what = 'The user rejected the request') => new ProviderRpcError(RpcErrorCode.USER_REJECTED, what),
  unauthorized: (what = 'This origin is not connected to Patient Vault: call vault_connect first') =>
    new ProviderRpcError(RpcErrorCode.UNAUTHORIZED, what),
  unsupported: (method: string) =>
    new ProviderRpcError(RpcErrorCode.UNSUPPORTED_METHOD, `Unsupported method: ${method.slice(0, 64)}`),
  rateLimited: (retryAfterMs: number, what = 'Too many requests from this origin') =>
    new ProviderRpcError(RpcErrorCode.RATE_LIMITED, what, { retryAfterMs: Math.ceil(retryAfterMs) }),
  locked: (what = 'Patient Vault is locked: ask the user to unlock it, then retry') =>
    new ProviderRpcError(RpcErrorCode.VAULT_LOCKED, what),
  invalidRequest: (what: string) => new ProviderRpcError(RpcErrorCode.INVALID_REQUEST, what),
  invalidParams: (what: string, path?: string, reason?: string) => {
    const data: { path?: string; reason?: string } = {};
    if (path !== undefined) data.path = path;
    if (reason !== undefined) data.reason = reason;
    return new ProviderRpcError(RpcErrorCode.INVALID_PARAMS, what, Object.keys(data).length ? data : undefined);
  },
  internal: (what = 'Patient Vault failed to handle the request', cause?: unknown) =>
    new ProviderRpcError(RpcErrorCode.INTERNAL, what, undefined, { cause }),
};
