import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { SCOPES, SENSITIVE_SCOPES, type FamilyOverview, type Scope, type VaultRef, type VaultStatus } from '../api/index.js';
import { errorText, useHost, useHostQuery } from './host-context.js';
import { Card, ColumnHeads, Outcome, PartyName } from './parts.js';
import { Loading } from './records-view.js';
import { ScopePicker, SCOPE_TEXT } from './scope-picker.js';
import { NotAvailable } from './vault-app.js';
import { useVaultChoice, vaultName } from './vault-choice.js';

/** Family: dependents' vaults, guardians, dependent-only scopes, handover, emergency contacts and requests. */
export function FamilyView({ status }: { status: VaultStatus }) {
  const { vault } = useVaultChoice();
  const vaults = useHostQuery({ type: 'vaults' }, ['family', 'grants']);
  if (!status.capabilities.includes('family')) {
    return (
      <>
        <h1>Family</h1>
        <NotAvailable what="Family views" />
      </>
    );
  }
  if (vaults.status !== 'ok') return <Loading q={vaults} />;
  const own = vaults.value.find((v) => v.kind === 'own');
  const current = vaults.value.find((v) => v.vault === (vault ?? own?.vault));
  return (
    <>
      <h1>Family</h1>
      <p class="muted">
        Showing: <strong>{current ? vaultName(current) : 'My vault'}</strong>. Switch vaults in the menu.
      </p>
      {current && (current.kind === 'shared' ? <ContactPanel vault={current} /> : <VaultFamily vault={current} />)}
      <Dependents vaults={vaults.value} />
      <UseLink />
    </>
  );
}

/** A link to hand to the other person, shown once it is made. */
function LinkOut({ id, link, text }: { id: string; link: string; text: string }) {
  return (
    <div class="notice">
      <label for={id}>{text}</label>
      <input id={id} type="text" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
    </div>
  );
}

/** The name and did:key inputs of a person being named (a guardian, a trusted contact); `id` prefixes the inputs' ids. */
function PersonFields({ id, name, did, onName, onDid }: { id: string; name: string; did: string; onName: (name: string) => void; onDid: (did: string) => void }) {
  return (
    <>
      <label for={`${id}-name`}>Their name</label>
      <input id={`${id}-name`} type="text" value={name} maxLength={120} onInput={(e) => onName(e.currentTarget.value)} />
      <label for={`${id}-did`}>Their identity (did:key)</label>
      <input id={`${id}-did`} type="text" value={did} onInput={(e) => onDid(e.currentTarget.value)} required />
    </>
  );
}

/** A form's submit button, on its own line. */
function SubmitRow({ disabled, children }: { disabled: boolean; children: ComponentChildren }) {
  return (
    <p>
      <button type="submit" disabled={disabled}>
        {children}
      </button>
    </p>
  );
}

/** Runs a command with busy/error state; returns what it answered. */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const run = async <T,>(fn: () => Promise<T>, doneText?: string): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const value = await fn();
      if (doneText !== undefined) setDone(doneText);
      return value;
    } catch (e) {
      setError(errorText(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, done, run };
}

function Dependents({ vaults }: { vaults: readonly VaultRef[] }) {
  const host = useHost();
  const { choose } = useVaultChoice();
  const [label, setLabel] = useState('');
  const [until, setUntil] = useState('');
  const a = useAction();
  const held = vaults.filter((v) => v.kind === 'held');
  const create = async (e: Event) => {
    e.preventDefault();
    const r = await a.run(() => host.call({ type: 'createDependent', label: label.trim(), ...(until !== '' && { guardianUntil: until }) }), `Created ${label.trim()}’s vault. You are its guardian.`);
    if (r) {
      setLabel('');
      choose(r.vault);
    }
  };
  return (
    <Card id="dependents" title="Dependents’ vaults you hold">
      {held.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <ul>
          {held.map((v) => (
            <li key={v.vault}>
              <button class="linklike" onClick={() => choose(v.vault)}>
                {vaultName(v)}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={(e) => void create(e)}>
        <h3>Create a dependent’s vault</h3>
        <p class="small muted">For a child, or a parent who asks for help. They are the vault’s subject; you act in it with your own key as guardian.</p>
        <label for="dependent-name">Their name</label>
        <input id="dependent-name" type="text" value={label} maxLength={120} onInput={(e) => setLabel(e.currentTarget.value)} required />
        <label for="dependent-until">Guardianship ends on (optional, e.g. their 18th birthday)</label>
        <input id="dependent-until" type="date" value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
        <SubmitRow disabled={a.busy || label.trim() === ''}>Create vault</SubmitRow>
      </form>
      <Outcome done={a.done} error={a.error} />
    </Card>
  );
}

/** Own or held vault: who holds it, guardians, dependent-only scopes, handover, emergency contacts and requests, trail. */
function VaultFamily({ vault }: { vault: VaultRef }) {
  const q = useHostQuery({ type: 'familyOverview', vault: vault.vault }, ['family', 'grants']);
  if (q.status !== 'ok') return <Loading q={q} />;
  const o = q.value;
  const acts = vault.as === 'owner' || vault.as === 'guardian';
  return (
    <>
      <Authority o={o} />
      <EmergencyRequests o={o} acts={acts} />
      {acts && vault.kind === 'held' && <Guardians o={o} />}
      {acts && vault.kind === 'held' && <Protect o={o} />}
      {vault.kind === 'held' && <Handover o={o} acts={acts} />}
      {acts && <Contacts o={o} />}
      <FamilyTrail o={o} />
    </>
  );
}

function Authority({ o }: { o: FamilyOverview }) {
  return (
    <Card id="authority" title="Who holds this vault">
      <dl class="kv">
        <dt>Vault of</dt>
        <dd>{o.vault.label ?? 'Unnamed'}</dd>
        <dt>Guardians</dt>
        <dd>
          {o.guardians.length === 0
            ? 'None'
            : o.guardians.map((g, i) => (
                <span key={g.did}>
                  {i > 0 && ', '}
                  <PartyName party={g} />
                </span>
              ))}
        </dd>
        <dt>Handed over</dt>
        <dd>{o.handover ? `Yes, on ${o.handover.at.slice(0, 10)}; guardians ${o.handover.guardians === 'read' ? 'kept read-only' : 'no longer act'}` : 'No'}</dd>
        <dt>Dependent-only</dt>
        <dd>{o.protectedScopes.length === 0 ? 'No scope' : o.protectedScopes.map((s) => SCOPE_TEXT[s].split(' —')[0]).join(', ')}</dd>
      </dl>
    </Card>
  );
}

function Guardians({ o }: { o: FamilyOverview }) {
  const host = useHost();
  const [did, setDid] = useState('');
  const [name, setName] = useState('');
  const [link, setLink] = useState<string>();
  const a = useAction();
  const add = async (e: Event) => {
    e.preventDefault();
    const r = await a.run(() => host.call({ type: 'addGuardian', vault: o.vault.vault, did: did.trim(), ...(name.trim() && { name: name.trim() }) }), 'Guardian added.');
    if (r) {
      setLink(r.link);
      setDid('');
    }
  };
  return (
    <Card id="guardians" title="Add a second guardian">
      <p class="small muted">Each guardian acts with their own device key. Ask them for their identity (Settings → Your identity).</p>
      <form onSubmit={(e) => void add(e)}>
        <PersonFields id="guardian" name={name} did={did} onName={setName} onDid={setDid} />
        <SubmitRow disabled={a.busy || !did.trim().startsWith('did:key:')}>Add guardian</SubmitRow>
      </form>
      <Outcome done={a.done} error={a.error} />
      {link && <LinkOut id="guardian-link" link={link} text="Link for the new guardian (they open Family → Use a link)" />}
    </Card>
  );
}

function Protect({ o }: { o: FamilyOverview }) {
  const host = useHost();
  const [scopes, setScopes] = useState<Scope[]>([]);
  const a = useAction();
  const open = SCOPES.filter((s) => !o.protectedScopes.includes(s));
  return (
    <Card id="protect" title="Dependent-only scopes">
      <p class="small muted">Guardians can neither read nor share a dependent-only scope from now on (for example reproductive health from a set age). The rule is checked by every verifier, not only hidden here.</p>
      <fieldset>
        <legend>Mark dependent-only</legend>
        {open.map((s) => (
          <label class="check" key={s}>
            <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} />
            <span>
              {SCOPE_TEXT[s]}
              {SENSITIVE_SCOPES.has(s) && <span class="badge warn"> sensitive</span>}
            </span>
          </label>
        ))}
      </fieldset>
      <button disabled={a.busy || scopes.length === 0} onClick={() => void a.run(() => host.call({ type: 'protectScopes', vault: o.vault.vault, scopes }), 'Marked dependent-only.').then(() => setScopes([]))}>
        Mark dependent-only
      </button>
      <Outcome done={a.done} error={a.error} />
    </Card>
  );
}

function Handover({ o, acts }: { o: FamilyOverview; acts: boolean }) {
  const host = useHost();
  const [did, setDid] = useState('');
  const [keep, setKeep] = useState<'end' | 'read'>('end');
  const [confirm, setConfirm] = useState(false);
  const [link, setLink] = useState<string>();
  const a = useAction();
  if (o.handover) {
    // Handed over: what is left to do is give the new owner their link.
    return link ? (
      <Card id="handover" title="Handed over">
        <LinkOut id="handover-link" link={link} text="Link for the new owner (they open Family → Use a link)" />
      </Card>
    ) : null;
  }
  if (!acts) return null;
  const go = async () => {
    const r = await a.run(() => host.call({ type: 'handover', vault: o.vault.vault, subject: did.trim(), guardians: keep }), 'Handed over.');
    setConfirm(false);
    if (r) setLink(r.link);
  };
  return (
    <Card id="handover" title="Hand the vault over">
      <p class="small muted">
        When {o.vault.label ?? 'the dependent'} takes over (at majority, or when you choose), they get their own identity as the vault’s owner. Grants made before stay valid
        unless they revoke them.
      </p>
      <label for="handover-did">Their own identity (did:key, from their Patient Vault)</label>
      <input id="handover-did" type="text" value={did} onInput={(e) => setDid(e.currentTarget.value)} />
      <fieldset>
        <legend>After the handover, guardians</legend>
        <label class="check">
          <input type="radio" name="handover-keep" checked={keep === 'end'} onChange={() => setKeep('end')} />
          <span>no longer act</span>
        </label>
        <label class="check">
          <input type="radio" name="handover-keep" checked={keep === 'read'} onChange={() => setKeep('read')} />
          <span>keep reading (never dependent-only scopes)</span>
        </label>
      </fieldset>
      <button class="danger" disabled={a.busy || !did.trim().startsWith('did:key:')} onClick={() => setConfirm(true)}>
        Hand over…
      </button>
      {confirm && (
        <div role="alertdialog" aria-labelledby="handover-confirm-title" class="card prompt">
          <h3 id="handover-confirm-title">Hand {o.vault.label ?? 'this vault'} over now?</h3>
          <p>This cannot be undone by a guardian.</p>
          <div class="row">
            <button class="danger" onClick={() => void go()}>
              Hand over
            </button>
            <button class="secondary" onClick={() => setConfirm(false)}>
              Not now
            </button>
          </div>
        </div>
      )}
      <Outcome done={a.done} error={a.error} />
      {link && <LinkOut id="handover-link" link={link} text="Link for the new owner (they open Family → Use a link)" />}
    </Card>
  );
}

function Contacts({ o }: { o: FamilyOverview }) {
  const host = useHost();
  const [did, setDid] = useState('');
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['summary']);
  const [hours, setHours] = useState(48);
  const [link, setLink] = useState<string>();
  const a = useAction();
  const contacts = o.delegations.filter((d) => d.role === 'emergency');
  const add = async (e: Event) => {
    e.preventDefault();
    const r = await a.run(
      () => host.call({ type: 'addEmergencyContact', vault: o.vault.vault, did: did.trim(), scopes, waitHours: hours, ...(name.trim() && { name: name.trim() }) }),
      'Trusted contact added.',
    );
    if (r) {
      setLink(r.link);
      setDid('');
    }
  };
  return (
    <Card id="contacts" title="Trusted emergency contacts">
      {contacts.length === 0 ? (
        <p class="muted">No trusted contact yet.</p>
      ) : (
        <table>
          <ColumnHeads columns={['Contact', 'May ask for', 'Wait']} actions />
          <tbody>
            {contacts.map((c) => (
              <tr key={c.entry}>
                <td>
                  <PartyName party={c.delegate} />
                </td>
                <td>{c.scopes.join(', ')}</td>
                <td>{c.waitHours} hours</td>
                <td>
                  <button class="secondary" onClick={() => void a.run(() => host.call({ type: 'removeDelegate', vault: o.vault.vault, did: c.delegate.did }), 'Contact removed.')}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={(e) => void add(e)}>
        <h3>Name a trusted contact</h3>
        <p class="small muted">They can ask for access in an emergency. You are told and can deny during the wait; with no denial, access to the scopes you choose opens when the wait ends.</p>
        <PersonFields id="contact" name={name} did={did} onName={setName} onDid={setDid} />
        <ScopePicker legend="They may ask for" value={scopes} onChange={setScopes} />
        <label for="contact-wait">Wait before access opens (hours)</label>
        <input id="contact-wait" type="number" min={0} max={8760} value={hours} onInput={(e) => setHours(Number(e.currentTarget.value))} />
        <SubmitRow disabled={a.busy || scopes.length === 0 || !did.trim().startsWith('did:key:') || !(hours >= 0)}>Add trusted contact</SubmitRow>
      </form>
      <Outcome done={a.done} error={a.error} />
      {link && <LinkOut id="contact-link" link={link} text="Link for the trusted contact (they open Family → Use a link)" />}
    </Card>
  );
}

const STATE_TEXT = { waiting: 'waiting', open: 'open', denied: 'denied', ended: 'ended' } as const;

function EmergencyRequests({ o, acts }: { o: FamilyOverview; acts: boolean }) {
  const host = useHost();
  const a = useAction();
  if (o.emergencies.length === 0) return null;
  return (
    <Card id="emergencies" title="Emergency requests">
      <table>
        <ColumnHeads columns={['From', 'Scopes', 'Opens', 'State']} actions />
        <tbody>
          {o.emergencies.map((e) => (
            <tr key={e.request} data-testid="emergency-request">
              <td>
                <PartyName party={e.contact} />
              </td>
              <td>{e.scopes.join(', ')}</td>
              <td>{new Date(e.opensAt).toLocaleString()}</td>
              <td>
                <span class={`badge ${e.state === 'waiting' ? 'warn' : e.state === 'open' ? 'bad' : 'ok'}`}>{STATE_TEXT[e.state]}</span>
              </td>
              <td>
                {acts && e.state === 'waiting' && (
                  <button class="danger" disabled={a.busy} onClick={() => void a.run(() => host.call({ type: 'denyEmergency', request: e.request }), 'Denied.')}>
                    Deny
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Outcome done={a.done} error={a.error} />
    </Card>
  );
}

const TRAIL_TEXT: Record<string, string> = {
  grant: 'shared',
  revoke: 'revoked a share',
  access: 'read records',
  delegate: 'named a guardian or contact',
  undelegate: 'ended a delegation',
  handover: 'handed the vault over',
  protect: 'marked scopes dependent-only',
  'emergency.request': 'asked for emergency access',
  'emergency.deny': 'denied emergency access',
  'emergency.open': 'emergency access opened',
  'emergency.served': 'was served in an emergency',
};

function FamilyTrail({ o }: { o: FamilyOverview }) {
  return (
    <Card id="family-trail" title="What happened in this vault">
      {o.trail.length === 0 ? (
        <p class="muted">Nothing yet.</p>
      ) : (
        <table>
          <ColumnHeads columns={['When', 'Who', 'What', 'Concerning']} />
          <tbody>
            {o.trail.slice(0, 100).map((t, i) => (
              <tr key={i}>
                <td>{new Date(t.at).toLocaleString()}</td>
                <td>
                  <PartyName party={t.by} />
                </td>
                <td>
                  {TRAIL_TEXT[t.kind] ?? t.kind}
                  {t.scopes.length > 0 && <span class="small muted"> ({t.scopes.join(', ')})</span>}
                </td>
                <td>{t.about ? <PartyName party={t.about} /> : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

/** An emergency contact's view of a vault it follows: ask for access, see the state, get the records once open. */
function ContactPanel({ vault }: { vault: VaultRef }) {
  const host = useHost();
  const q = useHostQuery({ type: 'familyOverview', vault: vault.vault }, ['family', 'grants']);
  const [reason, setReason] = useState('');
  const a = useAction();
  if (q.status !== 'ok') return <Loading q={q} />;
  const mine = q.value.emergencies;
  const open = mine.some((e) => e.state === 'open');
  const waiting = mine.find((e) => e.state === 'waiting');
  return (
    <Card id="contact" title={`Emergency access to ${vault.label ?? 'this vault'}`}>
      <p>
        Status:{' '}
        <span class={`badge ${open ? 'ok' : 'warn'}`} data-testid="emergency-status">
          {open ? 'access open' : waiting ? `waiting until ${new Date(waiting.opensAt).toLocaleString()}` : mine.some((e) => e.state === 'denied') ? 'last request denied' : 'no request'}
        </span>
      </p>
      {!open && !waiting && (
        <>
          <label for="emergency-reason">Why (the patient sees this)</label>
          <input id="emergency-reason" type="text" maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          <p>
            <button
              class="danger"
              disabled={a.busy}
              onClick={() => void a.run(() => host.call({ type: 'requestEmergency', vault: vault.vault, ...(reason.trim() && { reason: reason.trim() }) }), 'Request sent. The patient is told and can deny it during the wait.')}
            >
              Ask for emergency access
            </button>
          </p>
        </>
      )}
      <button class="secondary" disabled={a.busy} onClick={() => void a.run(() => host.call({ type: 'refreshVault', vault: vault.vault }), open ? 'Records updated. See Records.' : 'Checked.')}>
        {open ? 'Get records' : 'Check again'}
      </button>
      <Outcome done={a.done} error={a.error} />
    </Card>
  );
}

function UseLink() {
  const host = useHost();
  const { choose } = useVaultChoice();
  const [link, setLink] = useState('');
  const a = useAction();
  const use = async (e: Event) => {
    e.preventDefault();
    const r = await a.run(() => host.call({ type: 'useFamilyLink', link: link.trim() }), 'Connected. The vault is in the vault menu.');
    if (r) {
      setLink('');
      choose(r.vault);
    }
  };
  return (
    <Card id="use-link" title="Use a link from family">
      <p class="small muted">A guardian, a patient naming you a trusted contact, or a guardian handing your vault over to you gives you a link.</p>
      <form onSubmit={(e) => void use(e)}>
        <label for="family-link">Link (pvault-family:…)</label>
        <textarea id="family-link" value={link} onInput={(e) => setLink(e.currentTarget.value)} required />
        <SubmitRow disabled={a.busy || !link.trim().startsWith('pvault-family:')}>{a.busy ? 'Connecting…' : 'Use link'}</SubmitRow>
      </form>
      <Outcome done={a.done} error={a.error} />
    </Card>
  );
}
