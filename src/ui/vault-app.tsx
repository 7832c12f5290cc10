import { useEffect, useState } from 'preact/hooks';
import type { VaultStatus } from '../api/index.js';
import { useHost, useHostQuery } from './host-context.js';
import { Onboarding } from './onboarding.js';
import { ProviderView } from './provider-view.js';
import { RecordsView } from './records-view.js';
import { SettingsView } from './settings-view.js';
import { SharingView } from './sharing-view.js';
import { TrailView } from './trail-view.js';
import { Unlock } from './unlock.js';
import { FamilyView } from './family-view.js';
import { VaultChoiceProvider, VaultSwitcher } from './vault-choice.js';

/** The vault tab's sections, by URL hash. */
export const SECTIONS = [
  { hash: 'records', label: 'Records' },
  { hash: 'sharing', label: 'Sharing' },
  { hash: 'trail', label: 'Access trail & inbox' },
  { hash: 'provider', label: 'Shared with me' },
  { hash: 'family', label: 'Family' },
  { hash: 'settings', label: 'Settings' },
] as const;
type Section = (typeof SECTIONS)[number]['hash'];

function currentSection(): Section {
  const h = location.hash.replace(/^#\/?/, '');
  return SECTIONS.find((s) => s.hash === h)?.hash ?? 'records';
}

/** The vault tab: onboarding, unlock, or the sections of an unlocked vault. */
export function VaultApp() {
  const host = useHost();
  const status = useHostQuery({ type: 'status' }, ['status']);
  const alerts = useHostQuery(status.status === 'ok' && status.value.capabilities.includes('family') ? { type: 'familyAlerts' } : undefined, ['family', 'grants']);
  const waiting = alerts.status === 'ok' ? alerts.value.waitingEmergencies : 0;
  const [section, setSection] = useState<Section>(currentSection);
  useEffect(() => {
    const onHash = () => setSection(currentSection());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  // Activity in the vault tab keeps it from auto-locking while the user reads.
  useEffect(() => {
    let last = 0;
    const touch = () => {
      const now = Date.now();
      if (now - last < 30_000) return;
      last = now;
      void host.call({ type: 'touch' }).catch(() => undefined);
    };
    addEventListener('pointerdown', touch);
    addEventListener('keydown', touch);
    return () => {
      removeEventListener('pointerdown', touch);
      removeEventListener('keydown', touch);
    };
  }, [host]);
  useEffect(() => {
    document.title = `Patient Vault — ${SECTIONS.find((s) => s.hash === section)?.label ?? ''}`;
  }, [section]);

  if (status.status === 'loading') return <p class="centered" role="status">Opening your vault…</p>;
  if (status.status === 'error') return <p class="centered error" role="alert">The vault engine is not answering: {status.error.message}</p>;
  const s = status.value;
  if (s.state === 'none') return <Onboarding onDone={status.reload} />;
  if (s.state === 'locked') return <Unlock onDone={status.reload} />;
  return (
    <VaultChoiceProvider>
      <div class="shell">
        <a class="skip" href="#main">
          Skip to content
        </a>
        <nav aria-label="Vault sections">
          <span class="brand">Patient Vault</span>
          {s.capabilities.includes('family') && <VaultSwitcher />}
          <ul>
            {SECTIONS.map((x) => (
              <li key={x.hash}>
                <a href={`#${x.hash}`} aria-current={x.hash === section ? 'page' : undefined}>
                  {x.label}
                  {x.hash === 'family' && waiting > 0 && (
                    <span class="badge warn" data-testid="emergency-alert">
                      {' '}
                      {waiting} emergency request{waiting === 1 ? '' : 's'}
                    </span>
                  )}
                </a>
              </li>
            ))}
          </ul>
          <p class="small" style={{ marginTop: '1.5rem' }}>
            {s.displayName ? `Signed in as ${s.displayName}` : 'Unlocked'}
          </p>
          <button class="secondary" onClick={() => void host.call({ type: 'lock' })}>
            Lock now
          </button>
        </nav>
        <main id="main" tabIndex={-1}>
          <Section section={section} status={s} />
        </main>
      </div>
    </VaultChoiceProvider>
  );
}

function Section({ section, status }: { section: Section; status: VaultStatus }) {
  switch (section) {
    case 'records':
      return <RecordsView status={status} />;
    case 'sharing':
      return <SharingView status={status} />;
    case 'trail':
      return <TrailView status={status} />;
    case 'provider':
      return <ProviderView status={status} />;
    case 'settings':
      return <SettingsView status={status} />;
    case 'family':
      return <FamilyView status={status} />;
  }
}

/** Shown where this build's engine lacks a part. */
export function NotAvailable({ what }: { what: string }) {
  return (
    <p class="notice" role="note">
      {what} {what.endsWith('s') ? 'are' : 'is'} not available in this version of Patient Vault yet.
    </p>
  );
}
