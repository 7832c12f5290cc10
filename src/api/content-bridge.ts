import { PAGE_TAG } from './constants.js';
import { rpcErrors } from './errors.js';
import { contentToPage, hostToContent, pageToContent, PAGE_PORT, type ContentToPage } from './messages.js';
import type { RuntimePort } from './runtime.js';

/** A message without the fields every message carries. */
type WithoutTag<T> = T extends unknown ? Omit<T, 'pv' | 'dir'> : never;

/** What the content script needs from its environment. */
export interface ContentBridgeInit {
  /** The page's window as the isolated world sees it. */
  readonly win: Pick<Window, 'postMessage' | 'addEventListener'> & { readonly location: { readonly origin: string } };
  /** Makes sure the engine host runs (Chromium: the service worker creates the offscreen document). */
  readonly wake: () => Promise<void>;
  /** Opens a runtime port to the engine host. */
  readonly connect: (name: string) => RuntimePort;
  /** Delay before re-subscribing after the host went away. @default 1000 */
  readonly reconnectDelayMs?: number;
}

/**
 * The content script's half of the bridge (isolated world). It accepts the page world's first
 * `hello` as the page's channel and then only messages that: come from this very window (not a
 * frame, not another window), carry that channel, and parse against {@link pageToContent}.
 * Everything else is dropped without an answer. Requests go to the host stamped with this
 * document's real origin; the host checks that against the browser's sender. Responses go back
 * only for ids the page actually sent.
 */
export function startContentBridge(init: ContentBridgeInit): { stop(): void } {
  const { win } = init;
  const origin = win.location.origin;
  let channel: string | undefined;
  let port: RuntimePort | undefined;
  let connecting: Promise<RuntimePort> | undefined;
  let subscribed = false;
  let stopped = false;
  const pending = new Set<number>();

  const toPage = (message: WithoutTag<ContentToPage>) => {
    const full = { pv: PAGE_TAG, dir: 'to-page', ...message };
    // Parse our own output too: a malformed host message must not reach the page.
    if (contentToPage.safeParse(full).success) win.postMessage(full, origin);
  };

  const ensurePort = (): Promise<RuntimePort> => {
    if (port) return Promise.resolve(port);
    connecting ??= (async () => {
      await init.wake();
      const p = init.connect(PAGE_PORT);
      p.onMessage.addListener(onHostMessage);
      p.onDisconnect.addListener(() => {
        if (port === p) port = undefined;
        for (const id of pending) if (channel) toPage({ kind: 'response', channel, id, response: { ok: false, error: rpcErrors.internal('Patient Vault restarted; retry the request').toJSON() } });
        pending.clear();
        if (subscribed && !stopped) setTimeout(() => void ensurePort().then((q) => q.postMessage({ kind: 'subscribe', origin })).catch(() => undefined), init.reconnectDelayMs ?? 1000);
      });
      port = p;
      return p;
    })().finally(() => (connecting = undefined));
    return connecting;
  };

  const onHostMessage = (message: unknown) => {
    const parsed = hostToContent.safeParse(message);
    if (!parsed.success || !channel) return;
    const m = parsed.data;
    if (m.kind === 'response') {
      if (!pending.delete(m.id)) return;
      toPage({ kind: 'response', channel, id: m.id, response: m.response });
    } else if (subscribed) {
      toPage({ kind: 'event', channel, event: m.event });
    }
  };

  const onPageMessage = (event: MessageEvent) => {
    if (stopped || event.source !== (win as unknown) || event.origin !== origin) return;
    const parsed = pageToContent.safeParse(event.data);
    if (!parsed.success) return;
    const m = parsed.data;
    if (m.kind === 'hello') {
      if (channel === undefined) channel = m.channel;
      if (m.channel === channel) toPage({ kind: 'ready', channel });
      return;
    }
    if (m.channel !== channel) return;
    if (m.kind === 'subscribe') {
      if (subscribed) return;
      subscribed = true;
      void ensurePort().then((p) => p.postMessage({ kind: 'subscribe', origin })).catch(() => undefined);
      return;
    }
    // A page reusing an id still waiting would let one answer stand for two calls: refuse it.
    if (pending.has(m.id)) return;
    pending.add(m.id);
    const ch = channel;
    ensurePort()
      .then((p) => p.postMessage({ kind: 'request', id: m.id, origin, body: m.body }))
      .catch(() => {
        pending.delete(m.id);
        toPage({ kind: 'response', channel: ch, id: m.id, response: { ok: false, error: rpcErrors.internal('Patient Vault is not available').toJSON() } });
      });
  };

  win.addEventListener('message', onPageMessage);
  // The page world may have said hello before this script listened: ask it to say it again.
  win.postMessage({ pv: PAGE_TAG, dir: 'to-page', kind: 'syn' }, origin);
  return {
    stop() {
      stopped = true;
      port?.disconnect();
    },
  };
}
