/**
 * SMART Health Cards: QR text and images, compact JWS, issuer keys and verification.
 * @packageDocumentation
 */
export * from './constants.js';
export { verifyCard, type VerifiedCard, type VerifyCardOptions } from './card.js';
export { parseJws, looksLikeJws, inflateCapped, type ParsedJws } from './jws.js';
export { jwkThumbprint, signingKeysOf, importVerifyKey, verifyEs256, type IssuerJwk } from './jwk.js';
export { assembleQrLines, parseQrLine, decodeNumeric, encodeNumeric, type QrChunk } from './numeric.js';
export { decodeQrImage, decodeQrImageAsync, imageKind } from './qr-image.js';
export { TrustedIssuers, httpFetchJwks, type FetchJwks, type KeyResolution, type TrustedIssuersInit } from './trust.js';
