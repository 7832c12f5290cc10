import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseImport } from '../index.js';
import { assembleQrLines, verifyCard } from './index.js';
import { MAX_SVG_BYTES, decodeQrImage, decodeQrImageAsync, imageKind } from './qr-image.js';
import { refusal, spec, SPEC_ISS, SPEC_NOW, specTrust } from '../../../test/fixtures/shc-spec.js';

// The spec's example QR codes as SVG (smart-on-fhir/health-cards, gh-pages, examples/; CC-BY 4.0 /
// MIT): see test/fixtures/README.md.
const svg = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../../test/fixtures/samples/shc/${name}`, import.meta.url)));
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const codeOf = async (bytes: Uint8Array): Promise<string> => {
  try {
    await decodeQrImageAsync(bytes);
  } catch (e) {
    return (e as { code?: string }).code ?? 'no code';
  }
  return 'decoded';
};
/** The spec's first QR SVG with its root start tag replaced. */
const specSvgWithRoot = (root: string): Uint8Array =>
  utf8(new TextDecoder().decode(svg('example-00-g-qr-code-0.svg')).replace(/^<svg[^>]*>/, root));

describe('QR codes in SVG images', () => {
  it('reads the spec example QR SVG as its shc:/ text, which verifies with the spec issuer key', async () => {
    const text = await decodeQrImageAsync(svg('example-00-g-qr-code-0.svg'));
    expect(text).toBe(spec('example-00-f-qr-code-numeric-value-0.txt').trim());
    const [jws] = assembleQrLines([text]);
    const card = await verifyCard(jws!, { trust: specTrust(), now: SPEC_NOW });
    expect(card.verified).toBe(true);
    expect(card.issuer).toBe(SPEC_ISS);
  });

  it('reads the three SVGs of the chunked spec card in any order into the one verified card', async () => {
    const texts = await Promise.all([2, 0, 1].map((i) => decodeQrImageAsync(svg(`example-02-g-qr-code-${i}.svg`))));
    expect(texts).toEqual([2, 0, 1].map((i) => spec(`example-02-f-qr-code-numeric-value-${i}.txt`).trim()));
    const jwss = assembleQrLines(texts);
    expect(jwss).toEqual([spec('example-02-d-jws.txt').trim()]);
    const card = await verifyCard(jwss[0]!, { trust: specTrust(), now: SPEC_NOW });
    expect(card).toMatchObject({ issuer: SPEC_ISS, verified: true });
  });

  it('parseImport reads an SVG QR by content: the spec card verified; no QR, malformed or oversized SVG imports nothing', async () => {
    const parsed = await parseImport(svg('example-00-g-qr-code-0.svg'), { trust: specTrust(), now: SPEC_NOW });
    expect(parsed.cards).toEqual([expect.objectContaining({ issuer: SPEC_ISS, verified: true })]);
    expect(parsed.resources.length).toBe(4);
    const blank = utf8('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"><rect width="9" height="9" fill="#fff"/></svg>');
    expect((await refusal(parseImport(blank, { trust: specTrust(), now: SPEC_NOW }))).code).toBe('IMAGE_NO_QR');
    expect((await refusal(parseImport(utf8('<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>'), { now: SPEC_NOW }))).code).toBe('IMAGE_UNREADABLE');
    const big = new Uint8Array(MAX_SVG_BYTES + 1).fill(0x20);
    big.set(utf8('<svg xmlns="http://www.w3.org/2000/svg">'));
    expect((await refusal(parseImport(big, { now: SPEC_NOW }))).code).toBe('FILE_TOO_LARGE');
  });

  it('the synchronous decodeQrImage refuses SVG (it is drawn in a worker) rather than guessing', () => {
    expect(() => decodeQrImage(svg('example-00-g-qr-code-0.svg'))).toThrow(expect.objectContaining({ code: 'IMAGE_UNREADABLE' }) as Error);
  });

  it('detects SVG by content: bare root, XML prolog, comments, doctype, BOM; not HTML or JSON', () => {
    expect(imageKind(svg('example-00-g-qr-code-0.svg'))).toBe('svg');
    expect(imageKind(utf8('\uFEFF  <?xml version="1.0"?>\n<!-- made by x <svg in a comment> -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe('svg');
    expect(imageKind(utf8('<svg:svg xmlns:svg="http://www.w3.org/2000/svg"/>'))).toBe('svg');
    expect(imageKind(utf8('<?xml version="1.0"?><html><svg/></html>'))).toBeUndefined();
    expect(imageKind(utf8('<!-- <svg> --><html/>'))).toBeUndefined();
    expect(imageKind(utf8('{"resourceType":"Patient","text":"<svg>"}'))).toBeUndefined();
    expect(imageKind(utf8('<svgfoo/>'))).toBeUndefined();
  });

  it('an SVG with no QR code: IMAGE_NO_QR, as for a PNG', async () => {
    const blank = utf8('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 50 50"><rect width="50" height="50" fill="#fff"/><circle cx="25" cy="25" r="10"/><path d="M5 5h10v3H5z"/></svg>');
    expect(await codeOf(blank)).toBe('IMAGE_NO_QR');
  });

  it('an SVG that draws for too long (a blur of stdDeviation 1e9 over a huge region) is given up: IMAGE_UNREADABLE', async () => {
    const slow = utf8('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><filter id="f" x="-1e6" y="-1e6" width="2e6" height="2e6"><feGaussianBlur stdDeviation="1e9"/></filter><rect width="100" height="100" filter="url(#f)"/></svg>');
    // Measured here: ~37 s to draw; given 300 ms it must stop at about that.
    const started = Date.now();
    await expect(decodeQrImageAsync(slow, { svgTimeoutMs: 300 })).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE', message: expect.stringMatching(/too long/) as string });
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('renders at a bounded size whatever the SVG claims: 100000×100000 or a 1e9 viewBox still reads the QR', async () => {
    expect(await decodeQrImageAsync(specSvgWithRoot('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000" viewBox="0 0 97 97" shape-rendering="crispEdges">'))).toMatch(/^shc:\//);
    const huge = utf8('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000000000 1000000000"><rect width="1000000000" height="1000000000" fill="#000"/></svg>');
    expect(await codeOf(huge)).toBe('IMAGE_NO_QR');
    const sliver = utf8('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="0.001"><rect width="100000" height="1"/></svg>');
    expect(['IMAGE_UNREADABLE', 'IMAGE_NO_QR']).toContain(await codeOf(sliver));
  });

  it('refuses nested <use> fan-out, <image> (external or file: hrefs) and XML entities before rendering', async () => {
    const defs = Array.from({ length: 12 }, (_, i) => `<g id="l${i + 1}">${'<use href="#l' + i + '"/>'.repeat(10)}</g>`).join('');
    const bomb = utf8(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><defs><rect id="l0" width="1" height="1"/>${defs}</defs><use href="#l12"/></svg>`);
    expect(await codeOf(bomb)).toBe('IMAGE_UNREADABLE');
    for (const href of ['http://127.0.0.1:9/qr.png', 'file:///etc/passwd']) {
      expect(await codeOf(utf8(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"><image xlink:href="${href}" width="10" height="10"/></svg>`))).toBe('IMAGE_UNREADABLE');
    }
    const laughs = utf8('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>');
    expect(await codeOf(laughs)).toBe('IMAGE_UNREADABLE');
  });

  it('loads nothing an SVG points at (CSS @import, url() paints, filter images): no request reaches a local server', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.end('<svg xmlns="http://www.w3.org/2000/svg"/>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const sneaky = utf8(
        `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><style>@import url(${base}/a.css); rect { fill: url(${base}/p.svg#p) }</style>` +
          `<filter id="f"><feImage href="${base}/i.png"/></filter><rect width="20" height="20" fill="url(file:///etc/passwd#x)" filter="url(#f)"/></svg>`,
      );
      expect(await codeOf(sneaky)).toBe('IMAGE_NO_QR');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(requests).toBe(0);
  });

  it('an SVG over the size limit: FILE_TOO_LARGE before parsing', async () => {
    const big = new Uint8Array(MAX_SVG_BYTES + 1).fill(0x20);
    big.set(utf8('<svg xmlns="http://www.w3.org/2000/svg">'));
    expect(await codeOf(big)).toBe('FILE_TOO_LARGE');
  });

  it('malformed XML or non-UTF-8 SVG: IMAGE_UNREADABLE', async () => {
    for (const bad of ['<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/>', '<svg <<<>']) {
      expect(await codeOf(utf8(bad))).toBe('IMAGE_UNREADABLE');
    }
    expect(await codeOf(new Uint8Array([...utf8('<svg xmlns="http://www.w3.org/2000/svg">'), 0xff, 0xfe, ...utf8('</svg>')]))).toBe('IMAGE_UNREADABLE');
  });
});
