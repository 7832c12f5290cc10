/**
 * QR codes in images (PNG, JPEG, SVG): decode the pixels with pngjs / jpeg-js under size caps, or
 * rasterise an SVG with resvg (its wasm build: no native binary, no file system or network, so an
 * SVG cannot make it load anything), then find the QR with jsQR. One QR per image: for a chunked
 * card, decode each image and pass the texts together to parseImport.
 */
import type * as ResvgWasm from '@resvg/resvg-wasm';
import type * as NodeFs from 'node:fs/promises';
import type * as NodeModule from 'node:module';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { RecordsError } from '../errors.js';
import { MAX_IMAGE_DECODE_MB, MAX_IMAGE_PIXELS } from './constants.js';

/** Which image format `bytes` holds, if any we read: by content, never by file name. */
export function imageKind(bytes: Uint8Array): 'png' | 'jpeg' | 'svg' | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (isSvg(bytes)) return 'svg';
  return undefined;
}

/** How far into a file its `<svg` root may start (after an XML declaration, comments, a doctype). */
const SVG_HEAD_BYTES = 4096;

/**
 * An SVG document: `<svg …` first, or an XML prolog (`<?xml`, comments, `<!DOCTYPE`) followed by
 * `<svg` within the first 4 KiB. A UTF-8 byte order mark and leading white space are skipped.
 */
function isSvg(bytes: Uint8Array): boolean {
  const head = new TextDecoder('utf-8').decode(bytes.subarray(0, SVG_HEAD_BYTES)).replace(/^\uFEFF/, '').trimStart();
  if (/^<([\w.-]+:)?svg[\s>/]/.test(head)) return true;
  if (!/^<(\?xml|!--|!DOCTYPE)/i.test(head)) return false;
  // The root's start tag is the first tag that is not a declaration, comment or processing instruction.
  const root = /<(?![?!])([^\s>/]+)/.exec(head.replace(/<!--[\s\S]*?-->/g, ''));
  return root?.[1] === 'svg' || (root?.[1]?.endsWith(':svg') ?? false);
}

/** PNG width and height from the IHDR chunk, before decoding anything. */
function pngSize(bytes: Uint8Array): [number, number] {
  if (bytes.length < 24) return [0, 0];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
}

/**
 * An SVG larger than this is refused before parsing. The SMART Health Cards examples' QR SVGs are
 * 12–17 KiB (one path of runs per module row); 1 MiB leaves room for verbose generators (one rect
 * per module) while keeping the parse small.
 */
export const MAX_SVG_BYTES = 1024 * 1024;
/**
 * The longer side an SVG is rasterised at, whatever its width, height or viewBox say (so a
 * 100000×100000 viewBox costs no more than this). A Version 40 QR (177 modules + 4-module quiet
 * zones) gets ≥ 5 px per module, a Version 22 one (105 modules) ≥ 8.
 */
export const SVG_RASTER_PX = 1024;
/**
 * Elements a QR code never needs and that make a small file expensive: `<use>` fans out
 * (nested uses grow exponentially), `<image>` embeds a raster whose size the file does not bound,
 * `<!ENTITY` expands text (XML "billion laughs").
 */
const SVG_REFUSED = /<!ENTITY|<([a-zA-Z][\w.-]*:)?(use|image)[\s/>]/;

type Resvg = typeof ResvgWasm;
let resvg: Resvg | undefined;
let resvgLoading: Promise<Resvg> | undefined;

/**
 * Loads resvg's wasm once, in Node. The module names are not literals so that a bundler (the
 * extension build) does not pull resvg or its 2.4 MB wasm in: the extension reads SVG QR codes in
 * its pages with the browser's own renderer and hands the engine text.
 */
async function loadResvg(): Promise<Resvg> {
  const names = { resvg: '@resvg/resvg-wasm', module: 'node:module', fs: 'node:fs/promises' };
  const mod = (await import(/* @vite-ignore */ names.resvg)) as Resvg;
  const { createRequire } = (await import(/* @vite-ignore */ names.module)) as typeof NodeModule;
  const { readFile } = (await import(/* @vite-ignore */ names.fs)) as typeof NodeFs;
  const wasm = await readFile(createRequire(import.meta.url).resolve('@resvg/resvg-wasm/index_bg.wasm'));
  await mod.initWasm(wasm);
  return mod;
}

/**
 * Makes SVG images readable by {@link decodeQrImage} (loads the rasteriser once; later calls return
 * at once). Throws `IMAGE_UNREADABLE` where it cannot load (a browser: read the SVG in the page).
 */
export async function loadSvgRasteriser(): Promise<void> {
  if (resvg) return;
  resvgLoading ??= loadResvg();
  try {
    resvg = await resvgLoading;
  } catch {
    resvgLoading = undefined;
    throw new RecordsError('IMAGE_UNREADABLE', 'SVG images cannot be read here');
  }
}

function svgPixels(bytes: Uint8Array): { data: Uint8ClampedArray; width: number; height: number } {
  if (bytes.length > MAX_SVG_BYTES) throw new RecordsError('FILE_TOO_LARGE', `The SVG image is larger than ${MAX_SVG_BYTES / 1024} KiB`);
  if (!resvg) throw new RecordsError('IMAGE_UNREADABLE', 'SVG images are read after loadSvgRasteriser()');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RecordsError('IMAGE_UNREADABLE', 'The SVG image is not UTF-8 text');
  }
  if (SVG_REFUSED.test(text)) throw new RecordsError('IMAGE_UNREADABLE', 'The SVG image uses <use>, <image> or entities, which a QR code does not need');
  // No fonts: a QR code is paths, and text would need fonts from somewhere. The wasm build has no
  // file system or network, and external images are only loaded by resolveImage(), never called.
  const options: ResvgWasm.ResvgRenderOptions = { font: { loadSystemFonts: false }, background: '#ffffff' };
  let probe: InstanceType<Resvg['Resvg']> | undefined;
  let sized: InstanceType<Resvg['Resvg']> | undefined;
  let image: ReturnType<InstanceType<Resvg['Resvg']>['render']> | undefined;
  try {
    probe = new resvg.Resvg(text, options);
    const long = Math.max(probe.width, probe.height);
    if (!(long > 0) || !Number.isFinite(long)) throw new RecordsError('IMAGE_UNREADABLE', 'The SVG image has no size');
    // Whatever the size it claims, render the longer side at SVG_RASTER_PX (the shorter one is no larger).
    // (fitTo applies at render: `sized.width` still says the size the SVG claims.)
    sized = new resvg.Resvg(text, { ...options, fitTo: { mode: 'zoom', value: SVG_RASTER_PX / long } });
    image = sized.render();
    const { width, height } = image;
    if (width < 1 || height < 1 || width > SVG_RASTER_PX + 1 || height > SVG_RASTER_PX + 1) throw new RecordsError('IMAGE_UNREADABLE', 'The SVG image has no usable size');
    const pixels = image.pixels;
    return { data: new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.byteLength), width, height };
  } catch (e) {
    if (e instanceof RecordsError) throw e;
    throw new RecordsError('IMAGE_UNREADABLE', 'The SVG image could not be read');
  } finally {
    image?.free();
    sized?.free();
    probe?.free();
  }
}

function decodePixels(bytes: Uint8Array): { data: Uint8ClampedArray; width: number; height: number } {
  const kind = imageKind(bytes);
  if (kind === 'svg') return svgPixels(bytes);
  try {
    if (kind === 'png') {
      const [w, h] = pngSize(bytes);
      if (w * h > MAX_IMAGE_PIXELS) throw new RecordsError('IMAGE_UNREADABLE', 'The image has too many pixels');
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength), width: png.width, height: png.height };
    }
    if (kind === 'jpeg') {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1_000_000, maxMemoryUsageInMB: MAX_IMAGE_DECODE_MB });
      return { data: new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength), width: img.width, height: img.height };
    }
  } catch (e) {
    if (e instanceof RecordsError) throw e;
    throw new RecordsError('IMAGE_UNREADABLE', 'The image could not be decoded');
  }
  throw new RecordsError('IMAGE_UNREADABLE', 'Only PNG, JPEG and SVG images are read');
}

/**
 * The text of the QR code in a PNG, JPEG or SVG image (SVG once {@link loadSvgRasteriser} has
 * run). Throws `IMAGE_NO_QR` when there is none, `IMAGE_UNREADABLE` when the image is not read.
 */
export function decodeQrImage(bytes: Uint8Array): string {
  const { data, width, height } = decodePixels(bytes);
  const qr = jsQR(data, width, height, { inversionAttempts: 'attemptBoth' });
  if (!qr) throw new RecordsError('IMAGE_NO_QR', 'No QR code was found in the image');
  return qr.data;
}

/** {@link decodeQrImage} for any image it reads, loading the SVG rasteriser first when needed. */
export async function decodeQrImageAsync(bytes: Uint8Array): Promise<string> {
  if (imageKind(bytes) === 'svg' && bytes.length <= MAX_SVG_BYTES) await loadSvgRasteriser();
  return decodeQrImage(bytes);
}
