import jsQR from 'jsqr';
import { useState } from 'preact/hooks';
import type { ImportPreview, ImportSummary } from '../api/index.js';
import { errorText, useHost } from './host-context.js';
import { detectImport, ImportDetectError, type ImportInput } from './import-detect.js';
import { useVaultChoice } from './vault-choice.js';

/**
 * SVG limits, as in src/records/shc/qr-image.ts (the CLI's reader): QR SVGs are tens of KiB, a
 * QR code needs no `<use>` (nested uses fan out exponentially), `<image>` or entities, and the
 * raster is 1024 px on its longer side whatever size the SVG claims.
 */
const MAX_SVG_BYTES = 1024 * 1024;
const SVG_REFUSED = /<!ENTITY|<([a-zA-Z][\w.-]*:)?(use|image)[\s/>]/;
const SVG_RASTER_PX = 1024;
/** White around the drawing: jsQR needs a quiet zone, and some generators leave none. */
const SVG_MARGIN_PX = 32;

/** An SVG document by content (`<svg`, or an XML prolog then an `<svg` root), whatever the file's name or type. */
export function looksLikeSvg(head: string): boolean {
  const text = head.replace(/^\uFEFF/, '').trimStart();
  if (/^<([\w.-]+:)?svg[\s>/]/.test(text)) return true;
  if (!/^<(\?xml|!--|!DOCTYPE)/i.test(text)) return false;
  const root = /<(?![?!])([^\s>/]+)/.exec(text.replace(/<!--[\s\S]*?-->/g, ''));
  return root?.[1] === 'svg' || (root?.[1]?.endsWith(':svg') ?? false);
}

/** Whether `file` holds an SVG document (its first 4 KiB, by content). */
export async function isSvgFile(file: Blob): Promise<boolean> {
  return looksLikeSvg(await file.slice(0, 4096).text());
}

/**
 * Draws an SVG with the page's own renderer: an <img> of an image/svg+xml blob loads no external
 * resources and runs no script, and drawn into a fixed-size canvas it costs the same whatever
 * width, height or viewBox it claims. (createImageBitmap does not take SVG blobs in Chromium; the
 * page has Image, the service worker would not.)
 */
async function svgPixels(file: Blob): Promise<ImageData> {
  if (file.size > MAX_SVG_BYTES) throw new ImportDetectError('That SVG image is too large to be a QR code');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await file.arrayBuffer());
  } catch {
    throw new ImportDetectError('That SVG image could not be read');
  }
  if (SVG_REFUSED.test(text)) throw new ImportDetectError('That SVG image uses <use>, <image> or entities, which a QR code does not need');
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    try {
      await img.decode();
    } catch {
      throw new ImportDetectError('That SVG image could not be read');
    }
    // Keep the SVG's aspect ratio where it has one; one with only a viewBox fits a square box itself.
    const aspect = img.naturalWidth > 0 && img.naturalHeight > 0 ? img.naturalWidth / img.naturalHeight : 1;
    const w = Math.max(1, Math.round(aspect >= 1 ? SVG_RASTER_PX : SVG_RASTER_PX * aspect));
    const h = Math.max(1, Math.round(aspect >= 1 ? SVG_RASTER_PX / aspect : SVG_RASTER_PX));
    const canvas = new OffscreenCanvas(w + 2 * SVG_MARGIN_PX, h + 2 * SVG_MARGIN_PX);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new ImportDetectError('This browser cannot read images here');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, SVG_MARGIN_PX, SVG_MARGIN_PX, w, h);
    return ctx.getImageData(0, 0, canvas.width, canvas.height);
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function bitmapPixels(file: Blob): Promise<ImageData> {
  const bitmap = await createImageBitmap(file);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new ImportDetectError('This browser cannot read images here');
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
}

/** Reads the QR code in an image file (PNG, JPEG… or SVG, told by content) as text (jsQR on the decoded pixels). */
export async function readQrImage(file: File): Promise<string> {
  const pixels = (await isSvgFile(file)) ? await svgPixels(file) : await bitmapPixels(file);
  const code = jsQR(pixels.data, pixels.width, pixels.height);
  if (!code) throw new ImportDetectError('No QR code found in that image');
  return code.data;
}

/** Import from a file (FHIR JSON, .smart-health-card, QR image) or pasted shc:/ text, with a preview and a progress bar. */
export function ImportPanel() {
  const host = useHost();
  const { vault } = useVaultChoice();
  const [text, setText] = useState('');
  const [input, setInput] = useState<ImportInput>();
  const [preview, setPreview] = useState<ImportPreview>();
  const [progress, setProgress] = useState<{ done: number; total: number }>();
  const [summary, setSummary] = useState<ImportSummary>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const reset = () => {
    setPreview(undefined);
    setSummary(undefined);
    setError(undefined);
    setProgress(undefined);
  };
  const check = async (raw: string) => {
    reset();
    try {
      const detected = detectImport(raw);
      setInput(detected);
      setBusy(true);
      setPreview(await host.call({ type: 'previewImport', input: detected }));
    } catch (e) {
      setInput(undefined);
      setError(e instanceof ImportDetectError ? e.message : errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const onFile = async (file: File | undefined) => {
    if (!file) return;
    try {
      const raw = file.type.startsWith('image/') || (await isSvgFile(file)) ? await readQrImage(file) : await file.text();
      await check(raw);
    } catch (e) {
      reset();
      setError(e instanceof ImportDetectError ? e.message : 'That file could not be read');
    }
  };
  const run = async () => {
    if (!input) return;
    setBusy(true);
    setError(undefined);
    const progressId = crypto.randomUUID();
    const off = host.onEvent((e) => {
      if (e.type === 'progress' && e.progressId === progressId) setProgress({ done: e.done, total: e.total });
    });
    try {
      setSummary(await host.call({ type: 'importRecords', input, progressId, ...(vault !== undefined && { vault }) }));
      setPreview(undefined);
      setText('');
    } catch (e) {
      setError(errorText(e));
    } finally {
      off();
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="import-title">
      <h2 id="import-title">Import records</h2>
      <label for="import-file">From a file: FHIR JSON, a SMART Health Card, or a photo of its QR code</label>
      <input id="import-file" type="file" accept=".json,.smart-health-card,application/json,application/fhir+json,image/*" onChange={(e) => void onFile(e.currentTarget.files?.[0])} />
      <label for="import-text">Or paste a health card (shc:/…) or FHIR JSON</label>
      <textarea id="import-text" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <p>
        <button class="secondary" disabled={busy || text.trim() === ''} onClick={() => void check(text)}>
          Check
        </button>
      </p>
      {preview && (
        <div aria-live="polite">
          <h3>This will add {preview.total} records</h3>
          <p>{preview.byType.map((c) => `${c.count} ${c.name}`).join(', ')}</p>
          {preview.sensitive > 0 && <p class="notice">{preview.sensitive} of them go to sensitive scopes, which are never shared unless you choose to.</p>}
          {preview.cards.map((c, i) => (
            <p key={i}>
              Issued by {c.issuer}: {c.verified ? <span class="badge ok">signature verified</span> : <span class="badge warn">signature not verified</span>}
            </p>
          ))}
          <button disabled={busy} onClick={() => void run()}>
            Import {preview.total} records
          </button>
        </div>
      )}
      {progress && busy && (
        <p>
          <label for="import-progress">Importing…</label>
          <progress id="import-progress" max={progress.total} value={progress.done}>
            {progress.done} of {progress.total}
          </progress>
        </p>
      )}
      {summary && (
        <p class="success" role="status">
          Imported: {summary.added} new, {summary.updated} updated, {summary.unchanged} already there.
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
