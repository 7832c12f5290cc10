import { useState } from 'preact/hooks';
import { errorText, useHost } from './host-context.js';
import { MIN_PASSPHRASE_SCORE, StrengthMeter, useStrength } from './strength-meter.js';

/** First run: create a vault with a passphrase (with a strength meter), or restore a backup. */
export function Onboarding({ onDone }: { onDone: () => void }) {
  const [mode, setMode] = useState<'create' | 'restore'>('create');
  return (
    <main class="centered" id="main">
      <h1>Welcome to Patient Vault</h1>
      <p>Your health records, encrypted on this device, shared only when you say so.</p>
      <div class="tabs" role="tablist" aria-label="How to start">
        <button role="tab" id="tab-create" aria-selected={mode === 'create'} aria-controls="panel-start" onClick={() => setMode('create')}>
          Create a new vault
        </button>
        <button role="tab" id="tab-restore" aria-selected={mode === 'restore'} aria-controls="panel-start" onClick={() => setMode('restore')}>
          Restore from a backup
        </button>
      </div>
      <div role="tabpanel" id="panel-start" aria-labelledby={mode === 'create' ? 'tab-create' : 'tab-restore'}>
        {mode === 'create' ? <CreateVault onDone={onDone} /> : <RestoreVault onDone={onDone} />}
      </div>
    </main>
  );
}

function CreateVault({ onDone }: { onDone: () => void }) {
  const host = useHost();
  const [name, setName] = useState('');
  const [pass, setPass] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const strength = useStrength(pass);
  const strong = strength.score >= MIN_PASSPHRASE_SCORE;
  const match = pass === again;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!strong || !match) return;
    setBusy(true);
    setError(undefined);
    try {
      await host.call({ type: 'create', passphrase: pass, ...(name.trim() && { displayName: name.trim() }) });
      onDone();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={(e) => void submit(e)}>
      <label for="display-name">Your name (shown to people you share with)</label>
      <input id="display-name" type="text" autoComplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={120} />
      <label for="new-passphrase">Passphrase</label>
      <input
        id="new-passphrase"
        type="password"
        autoComplete="new-password"
        aria-describedby="strength passphrase-help"
        value={pass}
        onInput={(e) => setPass(e.currentTarget.value)}
        required
      />
      <StrengthMeter id="strength" passphrase={pass} s={strength} />
      <p id="passphrase-help" class="small muted">
        Use four or more unrelated words. Nobody — not us, not your doctor — can recover your vault without it.
      </p>
      <label for="confirm-passphrase">Passphrase again</label>
      <input id="confirm-passphrase" type="password" autoComplete="new-password" value={again} onInput={(e) => setAgain(e.currentTarget.value)} required aria-invalid={again !== '' && !match} />
      {again !== '' && !match && <p class="error" role="alert">The two passphrases differ.</p>}
      {pass !== '' && !strong && <p class="small">The passphrase must be at least “Strong” to protect health records.</p>}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <p>
        <button type="submit" disabled={busy || !strong || !match}>
          {busy ? 'Creating your vault…' : 'Create vault'}
        </button>
      </p>
    </form>
  );
}

function RestoreVault({ onDone }: { onDone: () => void }) {
  const host = useHost();
  const [file, setFile] = useState<File>();
  const [pass, setPass] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(undefined);
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      await host.call({ type: 'restoreBackup', backup: toBase64Url(bytes), passphrase: pass });
      onDone();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={(e) => void submit(e)}>
      <label for="backup-file">Backup file</label>
      <input id="backup-file" type="file" accept=".pvault,application/octet-stream" onChange={(e) => setFile(e.currentTarget.files?.[0])} required />
      <label for="restore-passphrase">The backup’s passphrase</label>
      <input id="restore-passphrase" type="password" autoComplete="current-password" value={pass} onInput={(e) => setPass(e.currentTarget.value)} required />
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <p>
        <button type="submit" disabled={busy || !file || !pass}>
          {busy ? 'Restoring…' : 'Restore vault'}
        </button>
      </p>
    </form>
  );
}

/** Bytes as base64url (what the host's restore command takes). */
export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** base64url text as bytes. */
export function fromBase64Url(text: string): Uint8Array {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
