import { useState } from 'preact/hooks';
import type { GrantAuthority, GrantView, Scope, VaultStatus } from '../api/index.js';
import { RecordCard } from './record-card.js';
import { errorText, useHost, useHostQuery } from './host-context.js';
import { ScopePicker } from './scope-picker.js';
import { Loading } from './records-view.js';
import { NotAvailable } from './vault-app.js';
import { Outcome, PartyName } from './parts.js';
import { readQrImage } from './import-panel.js';

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
  // A clinic scans the patient's invitation QR code (a photo or screenshot of it) instead of typing.
  const onQrImage = async (file: File | undefined) => {
    if (!file) return;
    setError(undefined);
    setResult(undefined);
    try {
      const text = (await readQrImage(file)).trim();
      if (!text.startsWith('pvault:')) throw new Error('That QR code is not a Patient Vault invitation');
      setInvitation(text);
    } catch (err) {
      setError(errorText(err));
    }
  };
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
        <label for="invitation-qr">Or a picture of its QR code</label>
        <input id="invitation-qr" type="file" accept="image/*" onChange={(e) => void onQrImage(e.currentTarget.files?.[0])} />
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

/** Who holds the patient's vault now (issue 8): guardians acting for them, or the handover to them. */
function AuthorityLine({ authority }: { authority: GrantAuthority }) {
  if (authority.handover) {
    const kept = authority.handover.guardians === 'read' ? 'their guardians may still read it' : 'their guardians no longer act for them';
    return (
      <p class="small" data-testid="authority">
        Handed over: the patient holds this vault themselves since {authority.handover.at.slice(0, 10)}; {kept}. Grants their guardians made stay valid unless the patient revokes them.
      </p>
    );
  }
  if (!authority.byGuardians) return null;
  return (
    <p class="small" data-testid="authority">
      Kept for the patient by their guardians.
    </p>
  );
}

/** One patient who shared with this device: their grants (newest decides the badge). */
interface SharedPatient {
  readonly patient: GrantView['patient'];
  readonly grants: readonly GrantView[];
}

/** Groups grants by patient: a patient may hold several grants to this device (e.g. one that lets it send results). */
function byPatient(grants: readonly GrantView[]): SharedPatient[] {
  const out = new Map<string, GrantView[]>();
  for (const g of grants) out.set(g.patient.did, [...(out.get(g.patient.did) ?? []), g]);
  return [...out.values()].map((gs) => ({ patient: gs.find((g) => g.patient.name !== undefined)?.patient ?? gs[0]!.patient, grants: gs }));
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
      {byPatient(q.value).map(({ patient, grants }) => {
        const live = grants.filter((g) => g.status === 'live');
        const shown = live[0] ?? grants.find((g) => g.status === 'invalid') ?? grants[grants.length - 1]!;
        const scopes = [...new Set((live.length > 0 ? live : [shown]).flatMap((g) => g.scopes))];
        const sends = live.some((g) => g.sendsResults);
        const name = patient.name ?? patient.did;
        return (
          <section key={patient.did} class="card" aria-label={`Patient ${name}`}>
            <div class="row">
              <h2 style={{ margin: 0 }}>
                <PartyName party={patient} />
              </h2>
              <GrantBadge grant={shown} />
              {sends && <span class="badge">you may send results</span>}
            </div>
            <p class="small muted">
              Scopes: {scopes.join(', ')} · purpose: {shown.purpose}
            </p>
            {shown.authority && <AuthorityLine authority={shown.authority} />}
            {live.length > 0 && (
              <div class="row">
                <button class="secondary" aria-expanded={open === patient.did} onClick={() => setOpen(open === patient.did ? undefined : patient.did)}>
                  {open === patient.did ? 'Hide records' : 'Show records'}
                </button>
              </div>
            )}
            {sends && <SendResult patient={patient.did} name={name} />}
            {open === patient.did && <PatientRecords patient={patient.did} />}
          </section>
        );
      })}
    </>
  );
}

/** Largest result file read (the engine refuses larger imports anyway). */
const MAX_RESULT_FILE_BYTES = 5 * 1024 * 1024;

/** "Send a result": one FHIR resource from a file or pasted JSON, checked here for shape and by the engine in full. */
function SendResult({ patient, name }: { patient: string; name: string }) {
  const host = useHost();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string>();
  const [error, setError] = useState<string>();
  const base = `send-${patient.slice(-12)}`;
  const onFile = async (file: File | undefined) => {
    setError(undefined);
    if (!file) return;
    if (file.size > MAX_RESULT_FILE_BYTES) {
      setError('That file is too large for one result');
      return;
    }
    setText(await file.text());
  };
  const send = async (e: Event) => {
    e.preventDefault();
    setDone(undefined);
    setError(undefined);
    let resource: unknown;
    try {
      resource = JSON.parse(text);
    } catch {
      setError('That is not JSON: paste or choose one FHIR resource');
      return;
    }
    if (typeof resource !== 'object' || resource === null || Array.isArray(resource) || typeof (resource as { resourceType?: unknown }).resourceType !== 'string') {
      setError('That is not a FHIR resource: it needs a "resourceType"');
      return;
    }
    setBusy(true);
    try {
      await host.call({ type: 'providerSendResult', patient, resource: resource as { resourceType: string } });
      setDone(`Sent to ${name}’s inbox. They decide whether to keep it.`);
      setText('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="send-result">
      <summary>Send a result</summary>
      <form onSubmit={(e) => void send(e)}>
        <label for={`${base}-file`}>A FHIR resource file (JSON)</label>
        <input id={`${base}-file`} type="file" accept=".json,application/json,application/fhir+json" onChange={(e) => void onFile(e.currentTarget.files?.[0])} />
        <label for={`${base}-text`}>Or paste one FHIR resource (e.g. an Observation)</label>
        <textarea id={`${base}-text`} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <p>
          <button type="submit" disabled={busy || text.trim() === ''}>
            {busy ? 'Sending…' : 'Send to the patient’s inbox'}
          </button>
        </p>
      </form>
      <Outcome done={done} error={error} />
    </details>
  );
}

function PatientRecords({ patient }: { patient: string }) {
  const q = useHostQuery({ type: 'providerRecords', patient, limit: 200 }, ['records', 'grants']);
  if (q.status !== 'ok') return <Loading q={q} />;
  return (
    <div>
      {q.value.records.map((r) => (
        <RecordCard key={r.id} record={r} attachmentsFrom={{ patient }} />
      ))}
    </div>
  );
}
