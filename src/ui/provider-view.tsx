import { useState } from 'preact/hooks';
import type { GrantView, Scope, VaultStatus } from '../api/index.js';
import { RecordCard } from './record-card.js';
import { errorText, useHost, useHostQuery } from './host-context.js';
import { ScopePicker } from './scope-picker.js';
import { Loading } from './records-view.js';
import { NotAvailable } from './vault-app.js';

/** Provider side: patients who shared with me, the verified grant, their records. */
export function ProviderView({ status }: { status: VaultStatus }) {
  return (
    <>
      <h1>Shared with me</h1>
      {status.capabilities.includes('provider') ? (
        <>
          <AcceptInvitation />
          <Patients />
        </>
      ) : (
        <NotAvailable what="Records shared with you" />
      )}
    </>
  );
}

function GrantBadge({ grant }: { grant: GrantView }) {
  switch (grant.status) {
    case 'live':
      return <span class="badge ok">Verified grant, until {grant.expiresAt.slice(0, 10)}</span>;
    case 'invalid':
      return <span class="badge bad">Verification failed — do not rely on this data</span>;
    default:
      return <span class="badge warn">Grant {grant.status}</span>;
  }
}

function AcceptInvitation() {
  const host = useHost();
  const [invitation, setInvitation] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['summary', 'labs']);
  const [days, setDays] = useState(30);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string>();
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      const r = await host.call({ type: 'redeemInvitation', invitation: invitation.trim(), scopes, purpose: 'treatment', expiresInDays: days });
      setResult(`Shared with you: ${r.scopes.join(', ')}.`);
      setInvitation('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="card">
      <summary>
        <strong>Accept a patient’s invitation</strong>
      </summary>
      <form onSubmit={(e) => void submit(e)}>
        <label for="invitation-text">Invitation (pvault:…)</label>
        <textarea id="invitation-text" value={invitation} onInput={(e) => setInvitation(e.currentTarget.value)} required />
        <ScopePicker legend="Ask for" value={scopes} onChange={setScopes} />
        <label for="invitation-days">For how many days</label>
        <input id="invitation-days" type="number" min={1} max={3650} value={days} onInput={(e) => setDays(Number(e.currentTarget.value))} />
        <p>
          <button type="submit" disabled={busy || !invitation.trim().startsWith('pvault:') || scopes.length === 0}>
            {busy ? 'Waiting for the patient…' : 'Send request'}
          </button>
        </p>
      </form>
      {result && (
        <p class="success" role="status">
          {result}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </details>
  );
}

function Patients() {
  const host = useHost();
  const q = useHostQuery({ type: 'providerShared', includeEnded: true }, ['grants', 'records']);
  const [open, setOpen] = useState<string>();
  const [checking, setChecking] = useState(false);
  const check = async () => {
    setChecking(true);
    try {
      await host.call({ type: 'providerRefresh' });
    } finally {
      setChecking(false);
      q.reload();
    }
  };
  if (q.status !== 'ok') return <Loading q={q} />;
  return (
    <>
      <p>
        <button class="secondary" disabled={checking} onClick={() => void check()}>
          {checking ? 'Checking…' : 'Check for updates'}
        </button>
      </p>
      {q.value.length === 0 && <p>No patient has shared with you yet.</p>}
      {q.value.map((g) => (
        <section key={g.id} class="card" aria-label={`Patient ${g.patient.name ?? g.patient.did}`}>
          <div class="row">
            <h2 style={{ margin: 0 }}>{g.patient.name ?? g.patient.did}</h2>
            <GrantBadge grant={g} />
          </div>
          <p class="small muted">
            Scopes: {g.scopes.join(', ')} · purpose: {g.purpose}
          </p>
          {g.status === 'live' && (
            <button class="secondary" aria-expanded={open === g.id} onClick={() => setOpen(open === g.id ? undefined : g.id)}>
              {open === g.id ? 'Hide records' : 'Show records'}
            </button>
          )}
          {open === g.id && <PatientRecords patient={g.patient.did} />}
        </section>
      ))}
    </>
  );
}

function PatientRecords({ patient }: { patient: string }) {
  const q = useHostQuery({ type: 'providerRecords', patient, limit: 200 }, ['records', 'grants']);
  if (q.status !== 'ok') return <Loading q={q} />;
  return (
    <div>
      {q.value.records.map((r) => (
        <RecordCard key={r.id} record={r} />
      ))}
    </div>
  );
}
