import { useState } from 'preact/hooks';
import { PURPOSES, type GrantView, type Purpose, type Scope, type VaultStatus } from '../api/index.js';
import { QrImage } from './qr-image.js';
import { errorText, useHost, useHostQuery } from './host-context.js';
import { Loading } from './records-view.js';
import { ScopePicker, SCOPE_TEXT } from './scope-picker.js';
import { PendingPrompts } from './approve-view.js';
import { NotAvailable } from './vault-app.js';
import { ColumnHeads, PartyName } from './parts.js';
import { useVaultChoice } from './vault-choice.js';

/** Sharing: pending requests, invitations (QR + link), active grants with revoke. */
export function SharingView({ status }: { status: VaultStatus }) {
  return (
    <>
      <h1>Sharing</h1>
      <section class="card" aria-labelledby="pending-title">
        <h2 id="pending-title">Waiting for your answer</h2>
        <PendingPrompts emptyText="No requests are waiting." />
      </section>
      {status.capabilities.includes('sharing') ? (
        <>
          <Invitation />
          <Grants />
        </>
      ) : (
        <NotAvailable what="Invitations and grants" />
      )}
    </>
  );
}

function Invitation() {
  const host = useHost();
  const { vault } = useVaultChoice();
  const [scopes, setScopes] = useState<Scope[]>(['summary']);
  const [purpose, setPurpose] = useState<Purpose>('treatment');
  const [days, setDays] = useState(30);
  const [link, setLink] = useState<string>();
  const [error, setError] = useState<string>();
  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      setLink((await host.call({ type: 'createInvitation', scopes, purpose, expiresInDays: days, ...(vault !== undefined && { vault }) })).link);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section class="card" aria-labelledby="invite-title">
      <h2 id="invite-title">Invite a provider</h2>
      <form onSubmit={(e) => void create(e)}>
        <ScopePicker legend="What they may see" value={scopes} onChange={setScopes} />
        <label for="invite-purpose">Purpose</label>
        <select id="invite-purpose" value={purpose} onChange={(e) => setPurpose(e.currentTarget.value as Purpose)}>
          {PURPOSES.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
        <label for="invite-days">For how many days</label>
        <input id="invite-days" type="number" min={1} max={3650} value={days} onInput={(e) => setDays(Number(e.currentTarget.value))} />
        <p>
          <button type="submit" disabled={scopes.length === 0}>
            Create invitation
          </button>
        </p>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {link && (
        <div>
          <QrImage text={link} label="Invitation QR code for the provider to scan" />
          <label for="invite-link">Or send this link</label>
          <input id="invite-link" type="text" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
          <p class="small muted">The invitation works once. You will be asked to approve the provider who redeems it.</p>
        </div>
      )}
    </section>
  );
}

function Grants() {
  const host = useHost();
  const { vault } = useVaultChoice();
  const q = useHostQuery({ type: 'grants', ...(vault !== undefined && { vault }) }, ['grants', 'family']);
  const [confirm, setConfirm] = useState<GrantView>();
  if (q.status !== 'ok') return <Loading q={q} />;
  const revoke = async (g: GrantView) => {
    await host.call({ type: 'revokeGrant', grantId: g.id });
    setConfirm(undefined);
  };
  return (
    <section class="card" aria-labelledby="grants-title">
      <h2 id="grants-title">Who can see what</h2>
      {q.value.length === 0 ? (
        <p class="muted">You have not shared anything.</p>
      ) : (
        <table>
          <ColumnHeads columns={['Provider', 'Scopes', 'Purpose', 'Until', 'Status']} actions />
          <tbody>
            {q.value.map((g) => (
              <tr key={g.id}>
                <td>
                  <PartyName party={g.grantee} />
                  {g.sendsResults && <span class="badge"> may send results</span>}
                </td>
                <td>{g.scopes.map((s) => SCOPE_TEXT[s].split(' —')[0]).join(', ')}</td>
                <td>{g.purpose}</td>
                <td>{g.expiresAt.slice(0, 10)}</td>
                <td>
                  <span class={`badge ${g.status === 'live' ? 'ok' : 'warn'}`}>{g.status}</span>
                </td>
                <td>
                  {g.status === 'live' && (
                    <button class="danger" onClick={() => setConfirm(g)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {confirm && (
        <div role="alertdialog" aria-labelledby="revoke-title" aria-describedby="revoke-text" class="card prompt">
          <h3 id="revoke-title">Stop sharing with {confirm.grantee.name}?</h3>
          <p id="revoke-text">
            They will get nothing new from now on. <strong>What they have already copied cannot be recalled</strong> — Patient Vault can ask them to
            delete it, but cannot make them.
          </p>
          <div class="row">
            <button class="danger" onClick={() => void revoke(confirm)}>
              Revoke
            </button>
            <button class="secondary" onClick={() => setConfirm(undefined)}>
              Keep sharing
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
