import { createContext, type ComponentChildren } from 'preact';
import { useContext, useState } from 'preact/hooks';
import type { VaultRef } from '../api/index.js';
import { useHostQuery } from './host-context.js';

/** The vault the tab is looking at: undefined = this device's own. */
interface VaultChoice {
  readonly vault: string | undefined;
  readonly choose: (vault: string | undefined) => void;
}

const ChoiceContext = createContext<VaultChoice>({ vault: undefined, choose: () => undefined });
const KEY = 'patientVault.vault';

/** Keeps the chosen vault for the views below (and across reloads of this tab). */
export function VaultChoiceProvider({ children }: { children: ComponentChildren }) {
  const [vault, setVault] = useState<string | undefined>(() => sessionStorage.getItem(KEY) ?? undefined);
  const choose = (next: string | undefined) => {
    if (next === undefined) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, next);
    setVault(next);
  };
  return <ChoiceContext.Provider value={{ vault, choose }}>{children}</ChoiceContext.Provider>;
}

/** The chosen vault (undefined: one's own). */
export function useVaultChoice(): VaultChoice {
  return useContext(ChoiceContext);
}

/** Vaults offered in the switcher: one's own, dependents' vaults one holds, and those one is an emergency contact of. */
export function switchable(vaults: readonly VaultRef[]): VaultRef[] {
  return vaults.filter((v) => v.kind === 'own' || v.kind === 'held' || v.as === 'emergency' || v.as === 'contact');
}

/** How a vault is named in the switcher. */
export function vaultName(v: VaultRef): string {
  if (v.kind === 'own') return 'My vault';
  const who = v.label ?? 'Unnamed vault';
  switch (v.as) {
    case 'guardian':
      return `${who} (guardian)`;
    case 'reader':
      return `${who} (read-only)`;
    case 'emergency':
      return `${who} (emergency access open)`;
    case 'contact':
      return `${who} (emergency contact)`;
    case 'owner':
      return who;
    default:
      return `${who} (no access)`;
  }
}

/** The switcher: a labelled select in the navigation. */
export function VaultSwitcher() {
  const { vault, choose } = useVaultChoice();
  const q = useHostQuery({ type: 'vaults' }, ['family', 'status']);
  const list = q.status === 'ok' ? switchable(q.value) : [];
  const own = list.find((v) => v.kind === 'own')?.vault;
  // A vault just created or joined may be chosen before this list has reloaded: the choice is kept
  // (views of a vault this device does not hold say so), never silently reset.
  if (list.length < 2) return null;
  return (
    <div class="switcher">
      <label for="vault-switch">Vault</label>
      <select id="vault-switch" value={vault ?? own ?? ''} onChange={(e) => choose(e.currentTarget.value === own ? undefined : e.currentTarget.value)}>
        {list.map((v) => (
          <option key={v.vault} value={v.vault}>
            {vaultName(v)}
          </option>
        ))}
      </select>
    </div>
  );
}
