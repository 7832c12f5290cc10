import { useState } from 'preact/hooks';
import { errorText, useHost } from './host-context.js';

/** Unlock form; `compact` for the popup. */
export function Unlock({ onDone, compact = false }: { onDone: () => void; compact?: boolean }) {
  const host = useHost();
  const [pass, setPass] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await host.call({ type: 'unlock', passphrase: pass });
      setPass('');
      onDone();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const form = (
    <form onSubmit={(e) => void submit(e)} class={compact ? '' : 'card'}>
      <label for="unlock-passphrase">Passphrase</label>
      <input id="unlock-passphrase" type="password" autoComplete="current-password" value={pass} onInput={(e) => setPass(e.currentTarget.value)} required />
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <p style={{ marginTop: '0.75rem' }}>
        <button type="submit" disabled={busy || !pass}>
          {busy ? 'Unlocking…' : 'Unlock'}
        </button>
      </p>
    </form>
  );
  if (compact) return form;
  return (
    <main class="centered" id="main">
      <h1>Patient Vault is locked</h1>
      <p>Enter your passphrase to open your records.</p>
      {form}
    </main>
  );
}
