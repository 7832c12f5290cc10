import jsQR from 'jsqr';
import { useState } from 'preact/hooks';
import type { ImportPreview, ImportSummary } from '../api/index.js';
import { errorText, useHost } from './host-context.js';
import { detectImport, ImportDetectError, type ImportInput } from './import-detect.js';
import { useVaultChoice } from './vault-choice.js';

/** Reads the QR code in an image file as text (jsQR on the decoded pixels). */
export async function readQrImage(file: File): Promise<string> {
  const bitmap = await createImageBitmap(file);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new ImportDetectError('This browser cannot read images here');
  ctx.drawImage(bitmap, 0, 0);
  const pixels = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
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
      const raw = file.type.startsWith('image/') ? await readQrImage(file) : await file.text();
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
