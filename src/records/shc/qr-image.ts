/**
 * QR codes in images (PNG, JPEG, SVG): decode the pixels with pngjs / jpeg-js under size caps, or
 * rasterise an SVG with resvg (its wasm build: no native binary, no file system or network, so an
 * SVG cannot make it load anything), then find the QR with jsQR. One QR per image: for a chunked
 * card, decode each image and pass the texts together to parseImport.
 */
import type * as NodeFs from 'node:fs/promises';
import type * as NodeModule from 'node:module';
import type * as NodeThreads from 'node:worker_threads';
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

/** How long an SVG may take to draw before it is given up (a filter or layer bomb draws for minutes). */
export const SVG_RENDER_TIMEOUT_MS = 10_000;

/**
 * Draws the SVG in a worker thread (plain CommonJS, so it runs whatever loads our TypeScript): a
 * small file can still ask for minutes of drawing or hundreds of MB of layers (200 nested groups
 * with opacity: 32 s, ~900 MB; a blur of stdDeviation 1e9: 37 s, measured here), so the worker is
 * terminated after SVG_RENDER_TIMEOUT_MS and its memory goes with it. No fonts: a QR code is paths.
 * The wasm build has no file system or network, and external images are only loaded through
 * resolveImage(), never called.
 */
const SVG_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Resvg, initWasm } = require(workerData.resvg);
initWasm(workerData.wasm).then(() => {
  const options = { font: { loadSystemFonts: false }, background: '#ffffff' };
  const probe = new Resvg(workerData.text, options);
  const long = Math.max(probe.width, probe.height);
  probe.free();
  if (!(long > 0) || !Number.isFinite(long)) return parentPort.postMessage({ error: 'size' });
  // Whatever size the SVG claims, its longer side is drawn at workerData.px (fitTo applies at render).
  const image = new Resvg(workerData.text, { ...options, fitTo: { mode: 'zoom', value: workerData.px / long } }).render();
  const pixels = image.pixels;
  parentPort.postMessage({ width: image.width, height: image.height, pixels }, [pixels.buffer]);
}).catch(() => parentPort.postMessage({ error: 'unreadable' }));
`;

let resvgWasm: Promise<WebAssembly.Module> | undefined;

interface Pixels {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** Node's worker_threads and module, loaded by non-literal names so no bundler pulls them (or resvg) into the extension. */
async function nodeModules(): Promise<{ Worker: typeof NodeThreads.Worker; resvg: string; wasm: WebAssembly.Module }> {
  const names = { threads: 'node:worker_threads', module: 'node:module', fs: 'node:fs/promises' };
  try {
    const { Worker } = (await import(/* @vite-ignore */ names.threads)) as typeof NodeThreads;
    const { createRequire } = (await import(/* @vite-ignore */ names.module)) as typeof NodeModule;
    const { readFile } = (await import(/* @vite-ignore */ names.fs)) as typeof NodeFs;
    const require = createRequire(import.meta.url);
    // Compiled once per process and handed to each worker (a Module is shared, not recompiled).
    resvgWasm ??= readFile(require.resolve('@resvg/resvg-wasm/index_bg.wasm')).then((bytes) => WebAssembly.compile(bytes));
    return { Worker, resvg: require.resolve('@resvg/resvg-wasm'), wasm: await resvgWasm };
  } catch {
    resvgWasm = undefined;
    // The extension reads SVG QR codes in its pages with the browser's own renderer.
    throw new RecordsError('IMAGE_UNREADABLE', 'SVG images cannot be read here');
  }
}

async function svgPixels(bytes: Uint8Array, timeoutMs: number): Promise<Pixels> {
  if (bytes.length > MAX_SVG_BYTES) throw new RecordsError('FILE_TOO_LARGE', `The SVG image is larger than ${MAX_SVG_BYTES / 1024} KiB`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RecordsError('IMAGE_UNREADABLE', 'The SVG image is not UTF-8 text');
  }
  if (SVG_REFUSED.test(text)) throw new RecordsError('IMAGE_UNREADABLE', 'The SVG image uses <use>, <image> or entities, which a QR code does not need');
  const { Worker, resvg, wasm } = await nodeModules();
  const workerData = { text, px: SVG_RASTER_PX, resvg, wasm };
  const worker = new Worker(SVG_WORKER, { eval: true, workerData, stdout: true, stderr: true });
  const unreadable = new RecordsError('IMAGE_UNREADABLE', 'The SVG image could not be read');
  try {
    const reply = await new Promise<unknown>((resolveReply, reject) => {
      const timer = setTimeout(() => reject(new RecordsError('IMAGE_UNREADABLE', 'The SVG image took too long to draw')), timeoutMs);
      worker.once('message', (m: unknown) => {
        clearTimeout(timer);
        resolveReply(m);
      });
      worker.once('error', () => {
        clearTimeout(timer);
        reject(unreadable);
      });
      worker.once('exit', () => {
        clearTimeout(timer);
        reject(unreadable);
      });
    });
    const { width, height, pixels } = (reply ?? {}) as { width?: unknown; height?: unknown; pixels?: unknown };
    if (typeof width !== 'number' || typeof height !== 'number' || !(pixels instanceof Uint8Array)) throw unreadable;
    if (width < 1 || height < 1 || width > SVG_RASTER_PX + 1 || height > SVG_RASTER_PX + 1 || pixels.length !== width * height * 4) throw unreadable;
    return { data: new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.byteLength), width, height };
  } finally {
    await worker.terminate();
  }
}

function decodePixels(bytes: Uint8Array): Pixels {
  const kind = imageKind(bytes);
  if (kind === 'svg') throw new RecordsError('IMAGE_UNREADABLE', 'SVG images are read by decodeQrImageAsync');
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
 * The text of the QR code in a PNG or JPEG image. Throws `IMAGE_NO_QR` when there is none,
 * `IMAGE_UNREADABLE` when the image is not read (SVG: see {@link decodeQrImageAsync}).
 */
export function decodeQrImage(bytes: Uint8Array): string {
  return findQr(decodePixels(bytes));
}

function findQr({ data, width, height }: Pixels): string {
  const qr = jsQR(data, width, height, { inversionAttempts: 'attemptBoth' });
  if (!qr) throw new RecordsError('IMAGE_NO_QR', 'No QR code was found in the image');
  return qr.data;
}

/**
 * The text of the QR code in a PNG, JPEG or SVG image (SVG in Node only: drawn by resvg in a
 * worker thread, given up after `svgTimeoutMs`). Throws `IMAGE_NO_QR` when there is none,
 * `IMAGE_UNREADABLE` or `FILE_TOO_LARGE` when the image is not read.
 */
export async function decodeQrImageAsync(bytes: Uint8Array, options: { svgTimeoutMs?: number } = {}): Promise<string> {
  if (imageKind(bytes) !== 'svg') return decodeQrImage(bytes);
  return findQr(await svgPixels(bytes, options.svgTimeoutMs ?? SVG_RENDER_TIMEOUT_MS));
}
