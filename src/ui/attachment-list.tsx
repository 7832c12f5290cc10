import { useEffect, useRef, useState } from 'preact/hooks';
import type { RecordView } from '../api/index.js';
import {
  TEXT_PREVIEW_BYTES,
  attachmentErrorText,
  attachmentItems,
  downloadName,
  mediaType,
  readAttachmentBytes,
  sizeText,
  textDecoderFor,
  type AttachmentDisplay,
  type AttachmentItem,
} from './attachments.js';
import { HostError } from './client.js';
import { dateText } from './fhir-text.js';
import { errorText, useHost } from './host-context.js';

/** Where a record's attachments are read from: this device's vault or another it holds (`vault`), or a patient who shared with it. */
export type AttachmentSource = { readonly vault?: string | undefined } | { readonly patient: string };

type Opened =
  | { readonly kind: 'loading' }
  | { readonly kind: 'text'; readonly text: string; readonly size: number; readonly shown: number }
  | { readonly kind: 'image'; readonly url: string }
  | { readonly kind: 'download'; readonly url: string; readonly name: string }
  | { readonly kind: 'error'; readonly message: string };

/**
 * The attachments of one record: title, type, size and creation date from the resource; content
 * read from the engine only when the user opens one (text inline, PNG/JPEG/GIF/WebP inline, any
 * other type saved as a file). Object URLs are revoked when an attachment is closed or the record
 * leaves the page.
 */
export function AttachmentList({ record, from }: { record: RecordView; from: AttachmentSource }) {
  const items = attachmentItems(record);
  if (items.length === 0) return null;
  return (
    <section class="attachments" aria-label={`Attachments of this ${record.resourceType}`}>
      <h4 style={{ margin: '0.75rem 0 0.25rem' }}>Attachments ({items.length})</h4>
      {'patient' in from && <p class="small muted">Attachment files are not shared with providers yet: you see that they exist, not their content.</p>}
      <ul class="attachment-list">
        {items.map((item) => (
          <AttachmentRow key={item.index} recordKey={record.id} item={item} from={from} />
        ))}
      </ul>
    </section>
  );
}

function AttachmentRow({ recordKey, item, from }: { recordKey: string; item: AttachmentItem; from: AttachmentSource }) {
  const host = useHost();
  const [opened, setOpened] = useState<Opened>();
  const urls = useRef<string[]>([]);
  const alive = useRef(true);
  const revoke = () => {
    for (const url of urls.current.splice(0)) URL.revokeObjectURL(url);
  };
  useEffect(
    () => () => {
      alive.current = false;
      revoke();
    },
    [],
  );
  const title = item.title ?? 'Untitled attachment';
  const name = downloadName(item);

  const open = async (as: AttachmentDisplay) => {
    revoke();
    setOpened({ kind: 'loading' });
    try {
      const read = ({ offset, length }: { offset: number; length: number }) => host.call({ type: 'readAttachment', key: recordKey, index: item.index, offset, length, ...from });
      const { bytes, size } = await readAttachmentBytes(read, as === 'text' ? TEXT_PREVIEW_BYTES : undefined);
      if (!alive.current) return;
      if (as === 'text') {
        setOpened({ kind: 'text', text: textDecoderFor(item.contentType).decode(bytes), size, shown: bytes.length });
      } else if (as === 'image') {
        // Only the four raster types reach here (displayOf); the blob carries the bare type.
        const url = URL.createObjectURL(new Blob([bytes], { type: mediaType(item.contentType) ?? 'application/octet-stream' }));
        urls.current.push(url);
        setOpened({ kind: 'image', url });
      } else {
        // A neutral type: opened from the link in a tab, the browser saves it instead of rendering it here.
        const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
        urls.current.push(url);
        setOpened({ kind: 'download', url, name });
        // Saved at once (the user asked for it); the link below saves it again. In the document while
        // clicked: Firefox ignores a click on a detached link.
        const a = document.createElement('a');
        a.href = url;
        a.download = name;
        a.hidden = true;
        document.body.append(a);
        a.click();
        a.remove();
      }
    } catch (e) {
      if (!alive.current) return;
      setOpened({ kind: 'error', message: attachmentErrorText(e instanceof HostError ? e.code : 'FAILED', errorText(e)) });
    }
  };
  const close = () => {
    revoke();
    setOpened(undefined);
  };

  const details = [item.contentType ?? 'type not given', sizeText(item.size), ...(item.creation !== undefined ? [`created ${dateText(item.creation) ?? item.creation}`] : [])];
  const shownOpen = opened !== undefined && opened.kind !== 'loading' && opened.kind !== 'error';
  return (
    <li class="attachment" data-testid="attachment">
      <div class="row">
        <strong>{title}</strong>
        <span class="small muted">{details.join(' · ')}</span>
        {shownOpen ? (
          <button class="secondary" onClick={close} aria-label={`Close ${title}`}>
            Close
          </button>
        ) : (
          <button class="secondary" disabled={opened?.kind === 'loading'} onClick={() => void open(item.display)} aria-label={`${item.display === 'download' ? 'Download' : 'Open'} ${title}`}>
            {item.display === 'download' ? 'Download' : 'Open'}
          </button>
        )}
      </div>
      {opened?.kind === 'loading' && (
        <p role="status" class="small muted">
          Loading…
        </p>
      )}
      {opened?.kind === 'text' && (
        <>
          {/* Text content is rendered as text: Preact escapes it, nothing in it is parsed as HTML. */}
          <pre class="attachment-text" tabIndex={0} aria-label={`Text of ${title}`}>
            {opened.text}
          </pre>
          {opened.shown < opened.size && (
            <p class="small muted">
              Showing the first {sizeText(opened.shown)} of {sizeText(opened.size)}.{' '}
              <button class="linklike" onClick={() => void open('download')}>
                Download the whole file
              </button>
            </p>
          )}
        </>
      )}
      {opened?.kind === 'image' && <img class="attachment-image" src={opened.url} alt={title} />}
      {opened?.kind === 'download' && (
        <p class="small">
          This type is not opened inside Patient Vault; it was saved as a file.{' '}
          <a href={opened.url} download={opened.name}>
            Save {opened.name} again
          </a>
        </p>
      )}
      {opened?.kind === 'error' && (
        <p class="error" role="alert">
          {opened.message}
        </p>
      )}
    </li>
  );
}
