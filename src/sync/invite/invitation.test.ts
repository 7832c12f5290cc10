import { describe, expect, it } from 'vitest';
import { encodeCanonical, generateIdentity, toBase64Url } from '../../crypto/index.js';
import { decodeInvitation, encodeInvitation, invitationDialAddress, newInvitation } from './invitation.js';

const RELAY = '/ip4/127.0.0.1/tcp/4001/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN';

describe('invitation strings', () => {
  it('round-trips and stays small enough for a QR code', () => {
    const patient = generateIdentity();
    const invitation = newInvitation(patient.did, RELAY, { now: 1_700_000_000_000, ttlMs: 3_600_000 });
    const text = encodeInvitation(invitation);
    expect(text.startsWith('pvault:')).toBe(true);
    expect(text.length).toBeLessThan(200);
    const back = decodeInvitation(text);
    expect(back).toEqual({ ...invitation, expires: 1_700_003_600_000 });
    expect(invitationDialAddress(back)).toMatch(/\/p2p-circuit\/p2p\/12D3Koo/);
  });

  it.each([
    ['no scheme', 'hello'],
    ['another scheme', 'http://example.org'],
    ['bad base64', 'pvault:***'],
    ['not CBOR', `pvault:${toBase64Url(new Uint8Array([0xff, 0x00]))}`],
    ['wrong fields', `pvault:${toBase64Url(encodeCanonical({ v: 1, k: new Uint8Array(3) }))}`],
    ['wrong version', `pvault:${toBase64Url(encodeCanonical({ v: 2, k: new Uint8Array(32), r: new Uint8Array(0), t: new Uint8Array(16), e: 1 }))}`],
    ['garbage address', `pvault:${toBase64Url(encodeCanonical({ v: 1, k: new Uint8Array(32).fill(1), r: new Uint8Array([0xff, 0xff, 0xff]), t: new Uint8Array(16), e: 1 }))}`],
    ['too long', `pvault:${'A'.repeat(600)}`],
  ])('refuses an invitation with %s', (_what, text) => {
    expect(() => decodeInvitation(text)).toThrow(expect.objectContaining({ code: 'BAD_INVITATION' }));
  });
});
