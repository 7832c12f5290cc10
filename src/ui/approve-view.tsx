import { useEffect, useRef, useState } from 'preact/hooks';
import { PURPOSES, SENSITIVE_SCOPES, type Prompt, type Purpose, type Scope } from '../api/index.js';
import { errorText, useHost, useHostQuery } from './host-context.js';
import { Loading } from './records-view.js';
import { ScopePicker } from './scope-picker.js';

/** The approval window: every request waiting for the user, one per site. */
export function ApproveView() {
  // Opened by the extension as a popup window (?popup=1): it closes itself once everything is answered.
  const q = useHostQuery({ type: 'prompts' }, ['prompts']);
  const hadPrompts = useRef(false);
  useEffect(() => {
    if (q.status !== 'ok') return;
    if (q.value.length > 0) {
      hadPrompts.current = true;
      return;
    }
    if (!hadPrompts.current || new URLSearchParams(location.search).get('popup') !== '1') return;
    // A new prompt arriving in the meantime re-renders and cancels the close.
    const timer = setTimeout(() => window.close(), 1500);
    return () => clearTimeout(timer);
  }, [q]);
  return (
    <main class="centered" id="main" style={{ margin: '1rem auto' }}>
      <h1>Requests for your vault</h1>
      <PendingPrompts emptyText="Nothing is waiting. You can close this window." />
    </main>
  );
}

/** The waiting prompts with their approve / deny controls. */
export function PendingPrompts({ emptyText }: { emptyText: string }) {
  const q = useHostQuery({ type: 'prompts' }, ['prompts']);
  if (q.status !== 'ok') return <Loading q={q} />;
  if (q.value.length === 0) return <p role="status">{emptyText}</p>;
  return (
    <>
      {q.value.map((p) => (
        <PromptCard key={p.id} prompt={p} />
      ))}
    </>
  );
}

function PromptCard({ prompt }: { prompt: Prompt }) {
  const host = useHost();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const d = prompt.details;
  const asks = d.kind === 'share' || d.kind === 'peer-request';
  const [scopes, setScopes] = useState<Scope[]>(asks ? [...d.request.scopes] : []);
  const [purpose, setPurpose] = useState<Purpose>(asks ? d.request.purpose : 'treatment');
  const [days, setDays] = useState(asks ? d.request.expiresInDays : 30);
  const [allowResults, setAllowResults] = useState(false);
  const answer = async (approved: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      await host.call({
        type: 'decide',
        promptId: prompt.id,
        decision: approved ? (asks ? { approved: true, edits: { scopes, purpose, expiresInDays: days, allowResults } } : { approved: true }) : { approved: false, reason: 'denied' },
      });
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };
  const titleId = `prompt-${prompt.id}`;
  return (
    <section class="card prompt" aria-labelledby={titleId} data-prompt-kind={d.kind}>
      <h2 id={titleId}>{TITLES[d.kind]}</h2>
      {d.kind === 'peer-request' ? (
        <p>
          Provider: <strong>{d.request.name}</strong> <span class="small muted">(identity {d.request.from}, proven by the connection)</span>
        </p>
      ) : (
        <p>
          Site: <span class="origin">{prompt.origin}</span>
        </p>
      )}
      {d.kind === 'connect' && <p>This site asks to talk to Patient Vault. It will still have to ask you before it can save or see anything.</p>}
      {d.kind === 'provider-read' && <p>This site asks to read the records patients have shared with you, on this device.</p>}
      {d.kind === 'import' && (
        <>
          <p>
            It offers <strong>{d.preview.total} records</strong>
            {d.label ? ` (it calls them “${d.label}”)` : ''}: {d.preview.byType.map((c) => `${c.count} ${c.name}`).join(', ')}.
          </p>
          {d.preview.sensitive > 0 && <p class="notice">{d.preview.sensitive} would go to sensitive scopes, which stay unshared unless you choose.</p>}
          {d.preview.cards.map((c, i) => (
            <p key={i}>
              Health card issued by {c.issuer}: {c.verified ? <span class="badge ok">signature verified</span> : <span class="badge warn">signature not verified</span>}
            </p>
          ))}
        </>
      )}
      {asks && (
        <>
          {d.kind === 'share' ? (
            <>
              <p>
                <strong>{d.request.provider.name}</strong> asks to see part of your record. They receive a one-time invitation and get exactly what you
                approve here.
              </p>
              <p class="small muted">Provider identity: {d.request.provider.did}</p>
            </>
          ) : (
            <p>They redeemed your invitation and ask to see part of your record.</p>
          )}
          {d.request.note && <p>Their note: “{d.request.note}”</p>}
          <ScopePicker legend="They may see (you can change this)" value={scopes} onChange={setScopes} />
          {scopes.some((s) => SENSITIVE_SCOPES.has(s)) && <p class="notice">You are sharing a sensitive scope.</p>}
          <label for={`${titleId}-purpose`}>Purpose</label>
          <select id={`${titleId}-purpose`} value={purpose} onChange={(e) => setPurpose(e.currentTarget.value as Purpose)}>
            {PURPOSES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
          <label for={`${titleId}-days`}>For how many days</label>
          <input id={`${titleId}-days`} type="number" min={1} max={3650} value={days} onInput={(e) => setDays(Number(e.currentTarget.value))} />
          <label class="check">
            <input type="checkbox" checked={allowResults} onChange={(e) => setAllowResults(e.currentTarget.checked)} />
            <span>They may also send new results to your inbox (you accept or reject each one)</span>
          </label>
        </>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="row" style={{ marginTop: '0.75rem' }}>
        <button disabled={busy || (asks && (scopes.length === 0 || !(days >= 1 && days <= 3650)))} onClick={() => void answer(true)}>
          {APPROVE[d.kind]}
        </button>
        <button class="secondary" disabled={busy} onClick={() => void answer(false)}>
          Deny
        </button>
      </div>
    </section>
  );
}

const TITLES: Record<Prompt['details']['kind'], string> = {
  connect: 'A site wants to connect',
  import: 'Save records to your vault?',
  share: 'Share records?',
  'provider-read': 'Let this site read shared records?',
  'peer-request': 'A provider asks for your records',
};
const APPROVE: Record<Prompt['details']['kind'], string> = {
  connect: 'Connect',
  import: 'Save to my vault',
  share: 'Share',
  'provider-read': 'Allow',
  'peer-request': 'Share',
};
