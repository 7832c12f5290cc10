import { useState } from 'preact/hooks';
import type { VaultStatus } from '../api/index.js';
import { errorText, useHost, useHostQuery } from './host-context.js';
import { fromBase64Url } from './onboarding.js';
import { Loading } from './records-view.js';
import { Card, Outcome } from './parts.js';

/** Settings: auto-lock, encrypted backup, connected sites (revocable). */
export function SettingsView({ status }: { status: VaultStatus }) {
  return (
    <>
      <h1>Settings</h1>
      {status.did && <Identity did={status.did} />}
      <Relay />
      <AutoLock minutes={status.autoLockMinutes} />
      <Backup />
      <ConnectedSites />
    </>
  );
}

function Identity({ did }: { did: string }) {
  return (
    <Card id="identity" title="Your identity">
      <p>Others recognise this device by this key. A clinic enters it on its staff page so patients can share with it.</p>
      <label for="identity-did">Identity (did:key)</label>
      <input id="identity-did" type="text" readOnly value={did} onFocus={(e) => e.currentTarget.select()} />
    </Card>
  );
}

function Relay() {
  const host = useHost();
  const q = useHostQuery({ type: 'settings' }, []);
  const [value, setValue] = useState<string>();
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string>();
  if (q.status !== 'ok') return <Loading q={q} />;
  const current = value ?? q.value.relay ?? '';
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    setError(undefined);
    try {
      await host.call({ type: 'setRelay', relay: current.trim() === '' ? null : current.trim() });
      setSaved(true);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <Card id="relay" title="Relay">
      <p>Providers reach this device through a relay. It passes encrypted traffic only and can read nothing.</p>
      <form onSubmit={(e) => void save(e)}>
        <label for="relay-address">Relay address</label>
        <input id="relay-address" type="text" value={current} placeholder="/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3Koo…" onInput={(e) => setValue(e.currentTarget.value)} />
        <p>
          <button type="submit">Save relay</button>
        </p>
      </form>
      <Outcome done={saved ? 'Saved. Reconnected through the new relay.' : undefined} error={error} />
    </Card>
  );
}

const CHOICES = [1, 5, 15, 30, 60, 240, 0];

function AutoLock({ minutes }: { minutes: number }) {
  const host = useHost();
  const [value, setValue] = useState(minutes);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string>();
  const save = async (next: number) => {
    setValue(next);
    setSaved(false);
    setError(undefined);
    try {
      await host.call({ type: 'setAutoLock', minutes: next });
      setSaved(true);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Card id="autolock" title="Auto-lock">
      <label for="autolock">Lock the vault after this long without use</label>
      <select id="autolock" value={String(value)} onChange={(e) => void save(Number(e.currentTarget.value))}>
        {(CHOICES.includes(value) ? CHOICES : [...CHOICES, value]).map((m) => (
          <option key={m} value={String(m)}>
            {m === 0 ? 'Never' : m < 60 ? `${m} minutes` : `${m / 60} hours`}
          </option>
        ))}
      </select>
      <Outcome done={saved ? 'Saved.' : undefined} error={error} />
    </Card>
  );
}

function Backup() {
  const host = useHost();
  const [error, setError] = useState<string>();
  const [done, setDone] = useState(false);
  const download = async () => {
    setError(undefined);
    try {
      const bytes = fromBase64Url(await host.call({ type: 'exportBackup' }));
      const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `patient-vault-${new Date().toISOString().slice(0, 10)}.pvault`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setDone(true);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Card id="backup" title="Backup">
      <p>One encrypted file of your whole vault. It opens only with your passphrase; keep it somewhere safe.</p>
      <button onClick={() => void download()}>Download encrypted backup</button>
      <Outcome done={done ? 'Backup saved to your downloads.' : undefined} error={error} />
    </Card>
  );
}

function ConnectedSites() {
  const host = useHost();
  const q = useHostQuery({ type: 'origins' }, ['origins']);
  if (q.status !== 'ok') return <Loading q={q} />;
  return (
    <Card id="sites" title="Connected sites">
      {q.value.length === 0 ? (
        <p class="muted">No site is connected.</p>
      ) : (
        <ul>
          {q.value.map((o) => (
            <li key={o.origin} class="row" style={{ justifyContent: 'space-between', margin: '0.3rem 0' }}>
              <span>
                <span class="origin">{o.origin}</span>
                {o.providerRead && <span class="badge"> may read shared records</span>}
                <span class="small muted"> since {new Date(o.connectedAt).toLocaleDateString()}</span>
              </span>
              <button class="secondary" aria-label={`Disconnect ${o.origin}`} onClick={() => void host.call({ type: 'disconnectOrigin', origin: o.origin })}>
                Disconnect
              </button>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
