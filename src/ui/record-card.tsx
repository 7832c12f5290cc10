import type { RecordView } from '../api/index.js';
import { AttachmentList, type AttachmentSource } from './attachment-list.js';
import { describeResource } from './fhir-text.js';

/**
 * One record, readable: title, labelled values, scope, provenance with a verified badge, and its
 * attachments (opened from `attachmentsFrom`, the vault or patient the record belongs to).
 */
export function RecordCard({ record, sourceLabel, attachmentsFrom }: { record: RecordView; sourceLabel?: string; attachmentsFrom?: AttachmentSource }) {
  const text = describeResource(record.resource);
  const p = record.provenance;
  return (
    <article class="card" aria-label={`${record.resourceType}: ${text.title}`}>
      <div class="row">
        <h3 style={{ margin: 0 }}>{text.title}</h3>
        <span class="badge">{record.resourceType}</span>
        <span class="badge">{record.scope}</span>
        {sourceLabel !== undefined ? (
          <span class="badge">{sourceLabel}</span>
        ) : p.verified ? (
          <span class="badge ok">Signature verified{p.issuer ? ` · ${p.issuer}` : ''}</span>
        ) : p.source === 'shc' ? (
          <span class="badge warn">Signature not verified</span>
        ) : (
          <span class="badge">Unsigned import</span>
        )}
      </div>
      {text.lines.length > 0 && (
        <dl class="kv">
          {text.lines.map(([k, v], i) => (
            <>
              <dt key={`k${i}`}>{k}</dt>
              <dd key={`v${i}`}>{v}</dd>
            </>
          ))}
        </dl>
      )}
      {attachmentsFrom !== undefined && <AttachmentList record={record} from={attachmentsFrom} />}
    </article>
  );
}
