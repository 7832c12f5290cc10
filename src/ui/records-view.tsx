import { useState } from 'preact/hooks';
import type { RecordView, VaultStatus } from '../api/index.js';
import { LabChart } from './lab-chart.js';
import { RecordCard } from './record-card.js';
import { ipsSections } from './fhir-text.js';
import { useHostQuery } from './host-context.js';
import { ImportPanel } from './import-panel.js';
import { NotAvailable } from './vault-app.js';
import { useVaultChoice } from './vault-choice.js';

const TABS = [
  { id: 'timeline', label: 'Timeline' },
  { id: 'types', label: 'By type' },
  { id: 'summary', label: 'Summary (IPS)' },
  { id: 'labs', label: 'Lab trends' },
  { id: 'import', label: 'Import' },
] as const;
type Tab = (typeof TABS)[number]['id'];

/** Records: timeline, by type, IPS summary, lab trends, import. */
export function RecordsView({ status }: { status: VaultStatus }) {
  const [tab, setTab] = useState<Tab>('timeline');
  const { vault } = useVaultChoice();
  // Lab trends are drawn for one's own vault; other vaults show timeline, types, summary and import.
  const tabs = vault === undefined ? TABS : TABS.filter((t) => t.id !== 'labs');
  if (!status.capabilities.includes('records')) {
    return (
      <>
        <h1>Records</h1>
        <NotAvailable what="Records" />
      </>
    );
  }
  return (
    <>
      <h1>Records</h1>
      <div class="tabs" role="tablist" aria-label="Ways to see your records">
        {tabs.map((t) => (
          <button key={t.id} role="tab" id={`tab-${t.id}`} aria-selected={tab === t.id} aria-controls="records-panel" onClick={() => setTab(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="records-panel" aria-labelledby={`tab-${tab}`}>
        {tab === 'timeline' && <Timeline />}
        {tab === 'types' && <ByType />}
        {tab === 'summary' && <Summary />}
        {tab === 'labs' && vault === undefined && <LabTrends />}
        {tab === 'import' && <ImportPanel />}
      </div>
    </>
  );
}

const PAGE = 200;

function Timeline() {
  const [limit, setLimit] = useState(PAGE);
  const { vault } = useVaultChoice();
  const q = useHostQuery({ type: 'timeline', limit, ...(vault !== undefined && { vault }) }, ['records', 'family']);
  if (q.status !== 'ok') return <Loading q={q} />;
  if (q.value.length === 0) return <p>No records yet. Import some from a patient portal or a file.</p>;
  return (
    <section aria-label="Timeline">
      <p class="muted" role="status">
        Showing the {q.value.length} most recent records.
      </p>
      <ol style={{ listStyle: 'none', padding: 0 }} data-testid="timeline">
        {q.value.map((r) => (
          <li key={r.id}>
            <p class="small muted" style={{ margin: '0.25rem 0' }}>
              {r.date?.slice(0, 10) ?? 'No date'}
            </p>
            <RecordCard record={r} attachmentsFrom={{ vault }} />
          </li>
        ))}
      </ol>
      {q.value.length >= limit && (
        <button class="secondary" onClick={() => setLimit(limit + PAGE)}>
          Show more
        </button>
      )}
    </section>
  );
}

function ByType() {
  const { vault } = useVaultChoice();
  const q = useHostQuery({ type: 'timeline', limit: 100_000, ...(vault !== undefined && { vault }) }, ['records', 'family']);
  if (q.status !== 'ok') return <Loading q={q} />;
  const groups = new Map<string, RecordView[]>();
  for (const r of q.value) groups.set(r.resourceType, [...(groups.get(r.resourceType) ?? []), r]);
  return (
    <>
      {[...groups.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([type, list]) => (
          <details key={type} class="card">
            <summary>
              <strong>{type}</strong> ({list.length})
            </summary>
            {list.slice(0, 100).map((r) => (
              <RecordCard key={r.id} record={r} attachmentsFrom={{ vault }} />
            ))}
          </details>
        ))}
    </>
  );
}

function Summary() {
  const { vault } = useVaultChoice();
  const q = useHostQuery({ type: 'timeline', limit: 100_000, ...(vault !== undefined && { vault }) }, ['records', 'family']);
  if (q.status !== 'ok') return <Loading q={q} />;
  return (
    <>
      {ipsSections(q.value).map((s) => (
        <section key={s.title} class="card" aria-label={s.title}>
          <h2>{s.title}</h2>
          {s.records.length === 0 ? <p class="muted">None recorded.</p> : s.records.slice(0, 20).map((r) => <RecordCard key={r.id} record={r} attachmentsFrom={{ vault }} />)}
        </section>
      ))}
    </>
  );
}

function LabTrends() {
  const codes = useHostQuery({ type: 'labCodes' }, ['records']);
  const [loinc, setLoinc] = useState<string>();
  const series = useHostQuery(loinc ? { type: 'labSeries', loinc } : undefined, ['records']);
  if (codes.status !== 'ok') return <Loading q={codes} />;
  if (codes.value.length === 0) return <p>No numeric lab results yet.</p>;
  return (
    <>
      <label for="lab-code">Lab test</label>
      <select id="lab-code" value={loinc ?? ''} onChange={(e) => setLoinc(e.currentTarget.value || undefined)}>
        <option value="">Choose a test…</option>
        {codes.value.map((c) => (
          <option key={c.loinc} value={c.loinc}>
            {c.display} ({c.count})
          </option>
        ))}
      </select>
      {loinc && series.status === 'ok' && <LabChart series={series.value} />}
      {loinc && series.status !== 'ok' && <Loading q={series} />}
    </>
  );
}

/** Loading or error state of a query. */
export function Loading({ q }: { q: { status: 'loading' } | { status: 'error'; error: Error } | { status: 'ok' } }) {
  if (q.status === 'error')
    return (
      <p class="error" role="alert">
        {q.error.message}
      </p>
    );
  return (
    <p role="status" class="muted">
      Loading…
    </p>
  );
}
