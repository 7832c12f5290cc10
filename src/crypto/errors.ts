/** Stable codes of the errors this layer throws. */
export type CryptoErrorCode =
  | 'INVALID_INPUT'
  | 'BAD_SIGNATURE'
  | 'DECRYPT_FAILED'
  | 'BAD_DID'
  | 'NON_CANONICAL'
  | 'BAD_KDF_PARAMS';

/**
 * Every failure in src/crypto. The message names the input that was wrong (its label), never its
 * value: no key, plaintext or passphrase ever reaches a message.
 */
export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
