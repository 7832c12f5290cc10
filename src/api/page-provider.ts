// Only small modules here: this is bundled into every page the extension serves (no zod).
import { MAX_REQUEST_CHARS, PAGE_TAG } from './constants.js';
import { ProviderRpcError, rpcErrors } from './errors.js';

/** EIP-6963-style provider info (EIP-6963 §Provider Info). */
export interface ProviderInfo {
  /** Random per page load (UUIDv4). */
  readonly uuid: string;
  readonly name: string;
  /** A data: URI of the icon (EIP-6963 requires a data URI, so pages load nothing from us). */
  readonly icon: string;
  /** Reverse DNS name. */
  readonly rdns: string;
}

/** Events a page may subscribe to. */
export type ProviderEventName = 'lockChanged' | 'shareChanged';

/** `window.patientVault`, shaped like an EIP-1193 provider. */
export interface PatientVaultProvider {
  readonly isPatientVault: true;
  /** Sends a request; resolves with the result or rejects with a coded {@link ProviderRpcError}. */
  request(args: { readonly method: string; readonly params?: unknown }): Promise<unknown>;
  on(event: ProviderEventName, listener: (data: unknown) => void): PatientVaultProvider;
  removeListener(event: ProviderEventName, listener: (data: unknown) => void): PatientVaultProvider;
}

/** Event a page dispatches to ask installed vaults to announce themselves. */
export const REQUEST_PROVIDER_EVENT = 'patientVault:requestProvider';
/** Event each vault dispatches with `detail: { info, provider }`. */
export const ANNOUNCE_PROVIDER_EVENT = 'patientVault:announceProvider';

const ICON =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b5d4b"/>' +
      '<path d="M16 6l8 3v6c0 5-3.4 9.3-8 11-4.6-1.7-8-6-8-11V9z" fill="#fff"/><path d="M15 11h2v4h4v2h-4v4h-2v-4h-4v-2h4z" fill="#0b5d4b"/></svg>',
  );

/** The window features the page-world script uses (a subset of `Window`). */
export type PageWindow = Pick<Window, 'postMessage' | 'addEventListener' | 'dispatchEvent' | 'crypto'>;

const EVENTS: ReadonlySet<string> = new Set(['lockChanged', 'shareChanged']);

/**
 * Runs in the page's own JavaScript world: defines `window.patientVault` and answers discovery
 * events. It holds nothing secret — no keys, no records except results the user approved for this
 * origin — and talks only to the content script, by `postMessage` on its own window, on a random
 * per-page channel. The channel keeps stray messages (other scripts' traffic, other frames) out;
 * it is not a secret from the page itself, and need not be: whatever a page posts, the content
 * script stamps the real origin and the engine checks it against the browser's sender.
 */
export function installPageProvider(win: PageWindow & { patientVault?: unknown }): PatientVaultProvider | undefined {
  if ('patientVault' in win) return undefined;
  const channel = toHex(win.crypto.getRandomValues(new Uint8Array(16)));
  let ready = false;
  let nextId = 1;
  const outbox: object[] = [];
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: ProviderRpcError) => void }>();
  const listeners = new Map<string, Set<(data: unknown) => void>>();
  let subscribed = false;

  const post = (message: object) => win.postMessage({ pv: PAGE_TAG, dir: 'to-content', channel, ...message }, '/');
  const send = (message: object) => {
    if (ready) post(message);
    else outbox.push(message);
  };

  win.addEventListener('message', (event: MessageEvent) => {
    if (event.source !== win) return;
    const data: unknown = event.data;
    if (!isRecord(data) || data.pv !== PAGE_TAG || data.dir !== 'to-page') return;
    if (data.kind === 'syn') {
      if (!ready) post({ kind: 'hello' });
      return;
    }
    if (data.channel !== channel) return;
    if (data.kind === 'ready') {
      if (ready) return;
      ready = true;
      for (const m of outbox.splice(0)) post(m);
    } else if (data.kind === 'response' && typeof data.id === 'number' && isRecord(data.response)) {
      const waiter = pending.get(data.id);
      if (!waiter) return;
      pending.delete(data.id);
      if (data.response.ok === true) waiter.resolve(data.response.result);
      else waiter.reject(ProviderRpcError.fromShape(data.response.error));
    } else if (data.kind === 'event' && isRecord(data.event) && typeof data.event.event === 'string') {
      for (const fn of listeners.get(data.event.event) ?? []) {
        try {
          fn(data.event.data);
        } catch {
          // A page's listener throwing must not stop the others.
        }
      }
    }
  });

  const provider: PatientVaultProvider = Object.freeze({
    isPatientVault: true as const,
    request(args: { readonly method: string; readonly params?: unknown }): Promise<unknown> {
      if (!isRecord(args) || typeof args.method !== 'string') {
        return Promise.reject(rpcErrors.invalidRequest('expected request({ method: string, params?: unknown })'));
      }
      let body: string;
      try {
        body = JSON.stringify({ method: args.method, params: args.params });
      } catch {
        return Promise.reject(rpcErrors.invalidParams('params must be JSON-serialisable'));
      }
      if (body.length > MAX_REQUEST_CHARS) return Promise.reject(rpcErrors.invalidParams('request is too large'));
      const id = nextId++;
      if (nextId > 2 ** 31 - 1) nextId = 1;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        send({ kind: 'request', id, body });
      });
    },
    on(event: ProviderEventName, listener: (data: unknown) => void): PatientVaultProvider {
      if (!EVENTS.has(event) || typeof listener !== 'function') return provider;
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener);
      if (!subscribed) {
        subscribed = true;
        send({ kind: 'subscribe' });
      }
      return provider;
    },
    removeListener(event: ProviderEventName, listener: (data: unknown) => void): PatientVaultProvider {
      listeners.get(event)?.delete(listener);
      return provider;
    },
  });

  Object.defineProperty(win, 'patientVault', { value: provider, writable: false, configurable: false, enumerable: true });
  const info: ProviderInfo = Object.freeze({ uuid: uuidV4(win), name: 'Patient Vault', icon: ICON, rdns: 'org.patientvault' });
  const announce = () => win.dispatchEvent(new CustomEvent(ANNOUNCE_PROVIDER_EVENT, { detail: Object.freeze({ info, provider }) }));
  win.addEventListener(REQUEST_PROVIDER_EVENT, announce);
  announce();
  post({ kind: 'hello' });
  return provider;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function uuidV4(win: PageWindow): string {
  const b = win.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40; // RFC 9562 §5.4: version 4
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
