import { useState } from 'preact/hooks';
import { SCOPES, type VaultStatus } from '../api/index.js';
import { useHostQuery } from './host-context.js';
import { Loading } from './records-view.js';
import { NotAvailable } from './vault-app.js';

/** The access trail (every receipt: who, when, which scope), filterable; and the inbox. */
export function TrailView({ status }: { status: VaultStatus }) {
  return (
    <>
      <h1>Access trail &amp; inbox</h1>
      {status.capabilities.includes('sharing') ? <Trail /> : <NotAvailable what="The access trail" />}
    </>
  );
}

function Trail() {
  const q = useHostQuery({ type: 'accessTrail' }, ['grants', 'records']);
  const [who, setWho] = useState('');
  const [scope, setScope] = useState('');
  if (q.status !== 'ok') return <Loading q={q} />;
  const rows = q.value.filter((r) => (!scope || r.scope === scope) && (!who || (r.who.name ?? r.who.did).toLowerCase().includes(who.toLowerCase())));
  return (
    <section class="card" aria-labelledby="trail-title">
      <h2 id="trail-title">Who accessed your records</h2>
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
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Scope</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>{new Date(r.at).toLocaleString()}</td>
              <td>{r.who.name ?? r.who.did}</td>
              <td>{r.scope}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p class="muted">No access recorded{who || scope ? ' for this filter' : ''}.</p>}
    </section>
  );
}
