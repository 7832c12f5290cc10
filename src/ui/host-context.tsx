import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import type { UiCommand, UiEvent } from '../api/index.js';
import { HostError, type HostClient, type UiResults } from './client.js';

const HostContext = createContext<HostClient | undefined>(undefined);

/** Makes `client` available to every view below. */
export function HostProvider({ client, children }: { client: HostClient; children: ComponentChildren }) {
  return <HostContext.Provider value={client}>{children}</HostContext.Provider>;
}

/** The host client of the enclosing {@link HostProvider}. */
export function useHost(): HostClient {
  const client = useContext(HostContext);
  if (!client) throw new Error('useHost outside HostProvider');
  return client;
}

/** State of a query: loading, a value, or an error the view can show. */
export type QueryState<T> = { readonly status: 'loading' } | { readonly status: 'ok'; readonly value: T } | { readonly status: 'error'; readonly error: HostError };

/**
 * Runs `command` now and again after any of `refreshOn` events (or after `reload()`).
 * `command` undefined skips the query.
 */
export function useHostQuery<C extends UiCommand>(command: C | undefined, refreshOn: readonly UiEvent['type'][]): QueryState<UiResults[C['type']]> & { reload: () => void } {
  const host = useHost();
  const [state, setState] = useState<QueryState<UiResults[C['type']]>>({ status: 'loading' });
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(command ?? null);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (!command) return;
    let live = true;
    host.call(command).then(
      (value) => live && setState({ status: 'ok', value }),
      (e: unknown) => live && setState({ status: 'error', error: e instanceof HostError ? e : new HostError('FAILED', 'Something went wrong') }),
    );
    return () => {
      live = false;
    };
    // `key` stands for `command`: a new object with the same content must not re-run the query.
  }, [host, key, tick]);
  useEffect(() => host.onEvent((e) => refreshOn.includes(e.type) && reload()), [host, reload, refreshOn.join()]);
  return { ...state, reload };
}

/** A message for an error, worded for the user. */
export function errorText(e: unknown): string {
  if (e instanceof HostError) {
    switch (e.code) {
      case 'WRONG_PASSPHRASE':
        return 'That passphrase does not open this vault.';
      case 'LOCKED':
        return 'The vault is locked. Unlock it and try again.';
      case 'NOT_AVAILABLE':
        return 'This is not available in this version yet.';
      default:
        return e.message;
    }
  }
  return e instanceof Error ? e.message : 'Something went wrong.';
}
