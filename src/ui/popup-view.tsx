import { browser } from 'wxt/browser';
import { useHost, useHostQuery } from './host-context.js';
import { Loading } from './records-view.js';
import { Unlock } from './unlock.js';

function openVault(hash = '') {
  void browser.tabs.create({ url: browser.runtime.getURL('/vault.html') + hash });
  window.close();
}

/** The toolbar popup: lock state, pending approvals, quick actions. */
export function Popup() {
  const host = useHost();
  const status = useHostQuery({ type: 'status' }, ['status']);
  const prompts = useHostQuery({ type: 'prompts' }, ['prompts']);
  if (status.status !== 'ok') return <main class="popup"><Loading q={status} /></main>;
  const s = status.value;
  return (
    <main class="popup">
      <h1>Patient Vault</h1>
      {s.state === 'none' && (
        <>
          <p>No vault on this device yet.</p>
          <button onClick={() => openVault()}>Set up your vault</button>
        </>
      )}
      {s.state === 'locked' && (
        <>
          <p>
            <span class="badge warn">Locked</span>
          </p>
          <Unlock compact onDone={status.reload} />
        </>
      )}
      {s.state === 'unlocked' && (
        <>
          <p>
            <span class="badge ok">Unlocked</span> {s.displayName && <span class="muted">as {s.displayName}</span>}
          </p>
          {prompts.status === 'ok' && prompts.value.length > 0 && (
            <p class="notice" role="status">
              {prompts.value.length} request{prompts.value.length === 1 ? '' : 's'} waiting for you.{' '}
              <button class="secondary" onClick={() => openVault('#sharing')}>
                Review
              </button>
            </p>
          )}
          <div class="row">
            <button onClick={() => openVault()}>Open vault</button>
            <button class="secondary" onClick={() => openVault('#sharing')}>
              Share
            </button>
            <button class="secondary" onClick={() => void host.call({ type: 'lock' })}>
              Lock
            </button>
          </div>
        </>
      )}
    </main>
  );
}
