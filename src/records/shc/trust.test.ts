import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { RecordsError, parseImport } from '../index.js';
import { TrustedIssuers } from './index.js';
import { createIssuer, healthCardFile, shcBundle, signHealthCard, type TestIssuer } from '../../../test/fixtures/shc-issuer.js';
import { refusal, spec, SPEC_ISS, SPEC_NOW } from '../../../test/fixtures/shc-spec.js';

// Trust files as a user has them: the bare JWKS an issuer publishes at iss + /.well-known/jwks.json,
// or a JWKS naming its issuer ("iss"), or several of those in an array.

const ISSUER_A = 'https://a.example.org/shc';
const ISSUER_B = 'https://b.example.org/shc';

/** A deep copy, as if read from a file. */
const asRead = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function badJwks(run: () => unknown): RecordsError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(RecordsError);
    expect((e as RecordsError).code).toBe('SHC_BAD_JWKS');
    return e as RecordsError;
  }
  throw new Error('expected SHC_BAD_JWKS');
}

describe('TrustedIssuers: a bare JWKS (as an issuer publishes it)', () => {
  let a: TestIssuer;
  let other: TestIssuer;
  const now = new Date();
  beforeAll(async () => {
    a = await createIssuer(ISSUER_A);
    other = await createIssuer(ISSUER_B);
  });

  it('verifies the spec example card with the spec issuer\'s own jwks.json, unchanged', async () => {
    const trust = new TrustedIssuers();
    expect(trust.addTrustDocument(JSON.parse(spec('issuer-jwks.json')))).toBe(2);
    const result = await parseImport(spec('example-00-e-file.smart-health-card'), { now: SPEC_NOW, trust });
    expect(result.cards).toEqual([{ issuer: SPEC_ISS, verified: true, resourceCount: 4 }]);
    expect(result.resources.every((r) => r.provenance.verified)).toBe(true);
    expect(trust.keyBindings()).toEqual([{ kid: '3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s', iss: SPEC_ISS }]);
    // The other spec examples (01 is signed by the second key) verify too: same issuer.
    for (const n of ['01', '02', '03']) expect((await parseImport(spec(`example-${n}-d-jws.txt`), { now: SPEC_NOW, trust })).cards[0]).toMatchObject({ issuer: SPEC_ISS, verified: true });
  });

  it('binds a key to the first issuer it verifies: a card signed with it naming another iss is untrusted', async () => {
    const trust = new TrustedIssuers();
    trust.addTrustDocument(asRead(a.jwks));
    const genuine = await signHealthCard(a, shcBundle(1));
    const forged = await signHealthCard(a, shcBundle(2), { iss: 'https://forged.example.org' });
    expect((await parseImport(genuine, { now, trust })).cards[0]).toMatchObject({ issuer: ISSUER_A, verified: true });
    const refused = await refusal(parseImport(forged, { now, trust }));
    expect(refused.code).toBe('SHC_UNTRUSTED_ISSUER');
    expect(refused.message).toContain('another issuer');
    // Imported only as unverified when the caller allows it, as for any untrusted card.
    const marked = await parseImport(forged, { now, trust, allowUnverified: true });
    expect(marked.cards[0]).toMatchObject({ issuer: 'https://forged.example.org', verified: false });
    expect(marked.resources.every((r) => !r.provenance.verified)).toBe(true);
    // Both in one file: the first card binds, the second is refused.
    const both = new TrustedIssuers();
    both.addTrustDocument(asRead(a.jwks));
    const partial = await parseImport(healthCardFile([genuine, forged]), { now, trust: both, partial: true });
    expect(partial.cards.map((c) => c.verified)).toEqual([true, false]);
    expect(partial.problems.map((p) => p.rule)).toEqual(['SHC_UNTRUSTED_ISSUER']);
    expect((await parseImport(genuine, { now, trust })).cards[0]!.verified).toBe(true);
  });

  it('restores bindings saved from an earlier trust set: the key keeps its issuer; malformed saved lists are refused whole', async () => {
    const first = new TrustedIssuers();
    first.addTrustDocument(asRead(a.jwks));
    expect((await parseImport(await signHealthCard(a, shcBundle(1)), { now, trust: first })).cards[0]!.verified).toBe(true);
    const saved = JSON.parse(JSON.stringify(first.keyBindings())) as unknown;
    const later = new TrustedIssuers();
    later.addTrustDocument(asRead(a.jwks));
    later.restoreBindings(saved);
    const forged = await signHealthCard(a, shcBundle(2), { iss: 'https://forged.example.org' });
    expect((await refusal(parseImport(forged, { now, trust: later }))).code).toBe('SHC_UNTRUSTED_ISSUER');
    expect((await parseImport(await signHealthCard(a, shcBundle(3)), { now, trust: later })).cards[0]!.verified).toBe(true);
    const kid = (saved as { kid: string }[])[0]!.kid;
    for (const bad of [{}, 'x', [{ kid }], [{ kid: 'short', iss: ISSUER_A }], [{ kid, iss: 'javascript:alert(1)' }], [{ kid, iss: ISSUER_A }, null]]) {
      const fresh = new TrustedIssuers();
      let code: string | undefined;
      try {
        fresh.restoreBindings(bad);
      } catch (e) {
        code = e instanceof RecordsError ? e.code : 'other';
      }
      expect(code).toBe('SHC_BAD_JWKS');
      expect(fresh.keyBindings()).toEqual([]);
    }
  });

  it('binds to whichever issuer comes first, and only once a signature verifies', async () => {
    const trust = new TrustedIssuers();
    trust.addTrustDocument(asRead(a.jwks));
    // A card claiming a's kid but signed by another key: a bad signature, and no binding.
    const impostor = await signHealthCard(a, shcBundle(1), { iss: ISSUER_B, signingKey: other.privateKey });
    expect((await refusal(parseImport(impostor, { now, trust }))).code).toBe('SHC_BAD_SIGNATURE');
    expect(trust.keyBindings()).toEqual([]);
    // The first verified card names ISSUER_B: the key is now ISSUER_B's, and ISSUER_A's card is refused.
    expect((await parseImport(await signHealthCard(a, shcBundle(1), { iss: ISSUER_B }), { now, trust })).cards[0]).toMatchObject({ issuer: ISSUER_B, verified: true });
    expect((await refusal(parseImport(await signHealthCard(a, shcBundle(1)), { now, trust }))).code).toBe('SHC_UNTRUSTED_ISSUER');
    expect(trust.keyBindings()).toEqual([{ kid: a.kid, iss: ISSUER_B }]);
  });

  it('keeps a key that a JWKS with "iss" lists bound to that issuer, even when a bare JWKS lists it too', async () => {
    const trust = new TrustedIssuers();
    trust.addTrustDocument({ ...asRead(a.jwks), iss: ISSUER_A });
    trust.addTrustDocument(asRead(a.jwks));
    expect((await refusal(parseImport(await signHealthCard(a, shcBundle(1), { iss: ISSUER_B }), { now, trust }))).code).toBe('SHC_UNTRUSTED_ISSUER');
    expect((await parseImport(await signHealthCard(a, shcBundle(1)), { now, trust })).cards[0]!.verified).toBe(true);
  });

  it('still refuses an unknown issuer whose key no trust file holds', async () => {
    const trust = new TrustedIssuers();
    trust.addTrustDocument(asRead(a.jwks));
    const refused = await refusal(parseImport(await signHealthCard(other, shcBundle(1)), { now, trust }));
    expect(refused.code).toBe('SHC_UNTRUSTED_ISSUER');
    expect(refused.message).toContain('not in the trusted list');
  });
});

describe('TrustedIssuers: a JWKS naming its issuer, and several in one file', () => {
  let a: TestIssuer;
  let b: TestIssuer;
  const now = new Date();
  beforeAll(async () => {
    a = await createIssuer(ISSUER_A);
    b = await createIssuer(ISSUER_B);
  });

  it('trusts the keys of a JWKS with "iss" for that issuer only, from the first card on', async () => {
    const trust = new TrustedIssuers();
    expect(trust.addTrustDocument({ ...asRead(a.jwks), iss: ISSUER_A })).toBe(1);
    // A card re-signed with the trusted key but claiming another issuer is not verified, even first.
    expect((await refusal(parseImport(await signHealthCard(a, shcBundle(1), { iss: ISSUER_B }), { now, trust }))).code).toBe('SHC_UNTRUSTED_ISSUER');
    expect((await parseImport(await signHealthCard(a, shcBundle(1)), { now, trust })).cards[0]!.verified).toBe(true);
    expect(trust.keyBindings()).toEqual([]);
    // An issuer URL with a trailing slash names the same issuer.
    const slash = new TrustedIssuers();
    slash.addTrustDocument({ ...asRead(a.jwks), iss: `${ISSUER_A}/` });
    expect((await parseImport(await signHealthCard(a, shcBundle(1)), { now, trust: slash })).cards[0]!.verified).toBe(true);
  });

  it('reads an array of JWKS with "iss", each key bound to its own issuer; keys of two files for one issuer add up', async () => {
    const trust = new TrustedIssuers();
    expect(trust.addTrustDocument([{ ...asRead(a.jwks), iss: ISSUER_A }, { ...asRead(b.jwks), iss: ISSUER_B }])).toBe(2);
    expect(trust.issuers().sort()).toEqual([ISSUER_A, ISSUER_B]);
    expect((await parseImport(await signHealthCard(a, shcBundle(1)), { now, trust })).cards[0]!.verified).toBe(true);
    expect((await parseImport(await signHealthCard(b, shcBundle(1)), { now, trust })).cards[0]!.verified).toBe(true);
    expect((await refusal(parseImport(await signHealthCard(b, shcBundle(1), { iss: ISSUER_A }), { now, trust }))).code).toBe('SHC_UNKNOWN_KID');

    const rotated = await createIssuer(ISSUER_A);
    const two = new TrustedIssuers();
    two.addTrustDocument({ ...asRead(a.jwks), iss: ISSUER_A });
    two.addTrustDocument({ ...asRead(rotated.jwks), iss: ISSUER_A });
    for (const issuer of [a, rotated]) expect((await parseImport(await signHealthCard(issuer, shcBundle(1)), { now, trust: two })).cards[0]!.verified).toBe(true);
  });

  it('keeps addTrustFile strict: a file without "iss" is refused there', () => {
    const trust = new TrustedIssuers();
    expect(badJwks(() => trust.addTrustFile(asRead(a.jwks))).message).toContain('"iss"');
    expect(trust.addTrustFile({ ...asRead(a.jwks), iss: ISSUER_A })).toBe(1);
  });
});

describe('TrustedIssuers: malformed and hostile trust files are refused whole (SHC_BAD_JWKS)', () => {
  let a: TestIssuer;
  const now = new Date();
  beforeAll(async () => {
    a = await createIssuer(ISSUER_A);
  });

  /** Refuses `doc`, names no key material, and leaves the trust set as it was (a's card still untrusted). */
  async function refusedWhole(doc: unknown, says: RegExp): Promise<void> {
    const trust = new TrustedIssuers();
    const e = badJwks(() => trust.addTrustDocument(doc));
    expect(e.message).toMatch(says);
    expect(e.message).not.toContain(a.publicJwk.x);
    expect(e.message).not.toContain(a.kid);
    expect(trust.issuers()).toEqual([]);
    expect((await refusal(parseImport(await signHealthCard(a, shcBundle(1)), { now, trust }))).code).toBe('SHC_UNTRUSTED_ISSUER');
  }

  it('not a JWKS: a string, a number, null, an empty list, no keys array, keys not an array', async () => {
    for (const doc of ['{"keys":[]}', 42, null, true]) await refusedWhole(doc, /not a JWKS object/);
    await refusedWhole([], /empty list/);
    await refusedWhole({ iss: ISSUER_A }, /no "keys" array/);
    await refusedWhole({ keys: { 0: a.publicJwk } }, /no "keys" array/);
    await refusedWhole({ keys: 'all' }, /no "keys" array/);
  });

  it('a set with no health-card signing key (empty, RSA only, encryption keys only)', async () => {
    await refusedWhole({ keys: [] }, /no health-card signing key/);
    await refusedWhole({ keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB', kid: 'r1' }] }, /no health-card signing key/);
    await refusedWhole({ keys: [{ ...a.publicJwk, use: 'enc' }] }, /no health-card signing key/);
  });

  it('a private key in the file ("d", or a symmetric "k"), in any key of the set', async () => {
    await refusedWhole({ keys: [{ ...a.publicJwk, d: 'c2VjcmV0' }] }, /private key.*keep the private key secret/);
    await refusedWhole({ keys: [a.publicJwk, { kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'c2VjcmV0' }] }, /private key/);
    await refusedWhole({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, /private key/);
  });

  it('a malformed key or a kid that is not its thumbprint', async () => {
    await refusedWhole({ keys: [{ ...a.publicJwk, kid: 'chosen-by-hand' }] }, /thumbprint/);
    await refusedWhole({ keys: [{ ...a.publicJwk, x: 42 }] }, /malformed/);
  });

  it('an iss that is not an https issuer URL', async () => {
    for (const iss of ['http://a.example.org', 'a.example.org', 'https://', 'https://a b', 42, null]) await refusedWhole({ ...asRead(a.jwks), iss }, /"iss".*https URL/);
  });

  it('__proto__, constructor and prototype members anywhere, as JSON.parse reads them', async () => {
    const jwks = JSON.stringify(a.jwks);
    await refusedWhole(JSON.parse(`{"__proto__":{"iss":"${ISSUER_B}"},${jwks.slice(1)}`), /"__proto__"/);
    await refusedWhole(JSON.parse(jwks.replace('"kty"', '"__proto__":{"d":"x"},"kty"')), /"__proto__"/);
    await refusedWhole(JSON.parse(`[{"constructor":{"prototype":{}}},${jwks}]`), /"constructor"/);
    expect(({} as { iss?: unknown }).iss).toBeUndefined();
  });

  it('one bad set in an array spoils the whole file; more than 100 sets; nesting deeper than a JWKS', async () => {
    await refusedWhole([asRead(a.jwks), { keys: 'none' }], /Key set 2 of the trust file has no "keys" array/);
    await refusedWhole(Array.from({ length: 101 }, () => asRead(a.jwks)), /more than 100/);
    let deep: unknown = asRead(a.jwks);
    for (let i = 0; i < 20; i++) deep = [deep];
    await refusedWhole(deep, /nested deeper/);
  });

  it('any JSON value that is not a trust document gets SHC_BAD_JWKS and adds nothing (fixed-seed property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), (value) => {
        const trust = new TrustedIssuers();
        badJwks(() => trust.addTrustDocument(value));
        expect(trust.issuers()).toEqual([]);
      }),
      { seed: 20261126, numRuns: 400 },
    );
  });
});
