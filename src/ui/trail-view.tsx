import { useState } from 'preact/hooks';
import { SCOPES, type InboxItemView, type Scope, type VaultStatus } from '../api/index.js';
import { errorText, useHost, useHostQuery } from './host-context.js';
import { Card, ColumnHeads, Outcome, PartyName } from './parts.js';
import { RecordCard } from './record-card.js';
import { Loading } from './records-view.js';
import { SCOPE_TEXT } from './scope-picker.js';
import { NotAvailable } from './vault-app.js';

/** The access trail (every receipt: who, when, which scope), filterable; and the inbox. */
export function TrailView({ status }: { status: VaultStatus }) {
  return (
    <>
      <h1>Access trail &amp; inbox</h1>
      {status.capabilities.includes('sharing') ? (
        <>
          <Inbox />
          <Trail />
        </>
      ) : (
        <NotAvailable what="The access trail" />
      )}
    </>
  );
}

/** Results providers pushed: each shown readably, accepted into a scope the patient picks, or rejected. */
function Inbox() {
  const q = useHostQuery({ type: 'inbox' }, ['inbox']);
  const [done, setDone] = useState<string>();
  return (
    <Card id="inbox" title="Inbox: results providers sent you">
      <p class="small muted">Nothing here is in your records until you accept it. Rejected results are deleted.</p>
      {q.status !== 'ok' ? (
        <Loading q={q} />
      ) : q.value.length === 0 ? (
        <p class="muted">No results are waiting.</p>
      ) : (
        q.value.map((item) => <InboxItem key={`${item.from.did}/${item.id}`} item={item} onDone={setDone} />)
      )}
      <Outcome done={done} />
    </Card>
  );
}

function InboxItem({ item, onDone }: { item: InboxItemView; onDone: (text: string) => void }) {
  const host = useHost();
  const [scope, setScope] = useState<Scope>(item.suggestedScope);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const selectId = `inbox-scope-${item.id}`;
  const act = async (accept: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      await host.call(accept ? { type: 'acceptResult', from: item.from.did, id: item.id, scope } : { type: 'rejectResult', from: item.from.did, id: item.id });
      onDone(accept ? `Added to ${SCOPE_TEXT[scope].split(' —')[0]}.` : 'Rejected and deleted.');
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };
  return (
    <div class="inbox-item" data-testid="inbox-item">
      <p>
        From <strong><PartyName party={item.from} /></strong>
        {item.invalid && <span class="badge bad"> not valid FHIR</span>}
      </p>
      <RecordCard
        record={{ id: item.id, resourceType: item.resourceType, scope, display: item.resourceType, resource: item.resource, provenance: { verified: false, importedAt: '' } }}
        sourceLabel="Sent by a provider"
      />
      {item.invalid ? (
        <p class="notice">It cannot be added: {item.invalid}</p>
      ) : (
        <>
          <label for={selectId}>Add to</label>
          <select id={selectId} value={scope} onChange={(e) => setScope(e.currentTarget.value as Scope)}>
            {SCOPES.map((s) => (
              <option key={s} value={s}>
                {SCOPE_TEXT[s]}
              </option>
            ))}
          </select>
        </>
      )}
      <div class="row" style={{ marginTop: '0.5rem' }}>
        {!item.invalid && (
          <button disabled={busy} onClick={() => void act(true)}>
            Accept
          </button>
        )}
        <button class="secondary" disabled={busy} onClick={() => void act(false)}>
          Reject
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function Trail() {
  const q = useHostQuery({ type: 'accessTrail' }, ['grants', 'records']);
  const [who, setWho] = useState('');
  const [scope, setScope] = useState('');
  if (q.status !== 'ok') return <Loading q={q} />;
  const rows = q.value.filter((r) => (!scope || r.scope === scope) && (!who || `${r.who.name ?? ''} ${r.who.did}`.toLowerCase().includes(who.toLowerCase())));
  return (
    <Card id="trail" title="Who accessed your records">
      <div class="row">
        <div>
          <label for="trail-who">Who</label>
          <input id="trail-who" type="text" value={who} onInput={(e) => setWho(e.currentTarget.value)} />
        </div>
        <div>
          <label for="trail-scope">Scope</label>
          <select id="trail-scope" value={scope} onChange={(e) => setScope(e.currentTarget.value)}>
            <option value="">All</option>
            {SCOPES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </div>
      <table>
        <caption class="skip">Access receipts</caption>
        <ColumnHeads columns={['When', 'Who', 'Scope']} />
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>{new Date(r.at).toLocaleString()}</td>
              <td>
                <PartyName party={r.who} />
              </td>
              <td>{r.scope}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p class="muted">No access recorded{who || scope ? ' for this filter' : ''}.</p>}
    </Card>
  );
}
