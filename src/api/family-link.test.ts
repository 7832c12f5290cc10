import { describe, expect, it } from 'vitest';
import { toBase64Url, utf8 } from '../crypto/index.js';
import { FAMILY_LINK_PREFIX, parseFamilyLink } from './engine-backend.js';

/** Family links come from other people (pasted text): every shape but the right one is refused. */
const good = {
  v: 1,
  kind: 'guardian',
  vault: 'A'.repeat(43),
  from: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
  address: '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWJxCfVjY25LNLu6YeHTUDz4hhLzVs7HArEQAz8qtsW2ZV/p2p-circuit/p2p/12D3KooWJxCfVjY25LNLu6YeHTUDz4hhLzVs7HArEQAz8qtsW2ZV',
  name: 'Pat Example',
};
const link = (value: unknown) => `${FAMILY_LINK_PREFIX}${toBase64Url(utf8(typeof value === 'string' ? value : JSON.stringify(value)))}`;

describe('family links', () => {
  it('parses a well-formed link', () => {
    expect(parseFamilyLink(`  ${link(good)}\n`)).toEqual(good);
  });

  it.each([
    ['another prefix', 'pvault:abc'],
    ['not base64url', `${FAMILY_LINK_PREFIX}!!!`],
    ['not JSON', link('{"v":1,')],
    ['a JSON array', link([good])],
    ['an unknown kind', link({ ...good, kind: 'owner' })],
    ['an extra field', link({ ...good, admin: true })],
    ['a prototype key', link(`{"__proto__":{"x":1},${JSON.stringify(good).slice(1)}`)],
    ['a bad did', link({ ...good, from: 'did:web:example.org' })],
    ['an address without a peer', link({ ...good, address: '/ip4/127.0.0.1/tcp/9090' })],
    ['an oversized name', link({ ...good, name: 'x'.repeat(121) })],
    ['an oversized link', `${FAMILY_LINK_PREFIX}${'A'.repeat(5000)}`],
    ['version 2', link({ ...good, v: 2 })],
  ])('refuses %s with INVALID_INPUT', (_, text) => {
    expect(() => parseFamilyLink(text)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
