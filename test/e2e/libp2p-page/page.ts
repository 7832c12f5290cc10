/**
 * The page the libp2p browser e2e test loads into real Chromium: it runs src/sync's browser node
 * factory (WebSockets, circuit relay, WebRTC, Noise, Yamux, identify, ping) and our protocols, and
 * exposes a few operations on `window.pv` for the test to drive through page.evaluate. Bundled by
 * the test with esbuild; nothing here runs at import time except creating `window.pv`.
 */
import * as Automerge from '@automerge/automerge';
import { multiaddr } from '@multiformats/multiaddr';
import { generateIdentity } from '../../../src/crypto/index.js';
import { DocSync, DocumentHandle } from '../../../src/sync/doc/index.js';
import { InviteService, decodeInvitation } from '../../../src/sync/invite/index.js';
import { createBrowserLibp2p } from '../../../src/sync/libp2p/browser.js';
import type { SyncLibp2p } from '../../../src/sync/libp2p/common.js';

type Scope = { items: Record<string, Uint8Array> };

/** A connection as the test sees it. */
export interface ConnectionView {
  readonly peer: string;
  readonly remoteAddr: string;
  /** Whether the relay limits it (a relayed connection under the default limits). */
  readonly limited: boolean;
  readonly direction: string;
}

/** What `window.pv` offers the test. */
export interface PageApi {
  start(relay: string): Promise<{ peerId: string; did: string }>;
  /** This node's addresses (circuit and WebRTC ones appear once the reservation holds). */
  addresses(): string[];
  ping(address: string): Promise<number>;
  /**
   * Dials `address`, up to `attempts` times; resolves with the connection's remote address and,
   * for each failed attempt, its error and the dial's progress events with their times (where a
   * WebRTC dial stopped). Throws with the same detail when every attempt failed.
   */
  dial(address: string, attempts?: number): Promise<{ remoteAddr: string; failures: string[] }>;
  connections(): ConnectionView[];
  /** Pulls a document through the doc protocol; returns its keys and the first item's bytes. */
  pull(address: string, vault: string, doc: string): Promise<{ keys: string[]; sample: number[]; heads: string[] }>;
  /** Serves a document of `count` random items of `size` bytes to anyone (read only). */
  serve(vault: string, doc: string, count: number, size: number): Promise<{ heads: string[] }>;
  /** Adds one item to the served document (a live session carries it). */
  addItem(key: string, bytes: number[]): void;
  /** Redeems a `pvault:` invitation; resolves with the patient's answer. */
  redeem(invitation: string): Promise<{ vault: string; scopes: string[]; patient: string }>;
  stop(): Promise<void>;
}

let node: SyncLibp2p | undefined;
let served: DocumentHandle<Scope> | undefined;
let docs: DocSync | undefined;

function started(): SyncLibp2p {
  if (!node) throw new Error('call start() first');
  return node;
}

const api: PageApi = {
  async start(relay) {
    const identity = generateIdentity();
    node = await createBrowserLibp2p({ identity, relay });
    docs = new DocSync(
      { host: node },
      {
        authorize: (_remote, vault, doc) => (served !== undefined && vault === 'browser-vault' && doc === 'labs' ? 'read' : false),
        resolve: () => served,
      },
    );
    await docs.start();
    return { peerId: node.peerId.toString(), did: identity.did };
  },
  addresses: () => started().getMultiaddrs().map((m) => m.toString()),
  async ping(address) {
    return started().services.ping.ping(multiaddr(address));
  },
  async dial(address, attempts = 1) {
    const failures: string[] = [];
    for (let attempt = 0; attempt < attempts; attempt++) {
      const t0 = performance.now();
      const events: string[] = [];
      try {
        const connection = await started().dial(multiaddr(address), {
          onProgress: (event: { type: string }) => events.push(`${Math.round(performance.now() - t0)}ms ${event.type}`),
        });
        return { remoteAddr: connection.remoteAddr.toString(), failures };
      } catch (error) {
        failures.push(`${error instanceof Error ? error.message : String(error)} after: ${events.slice(-4).join(', ')}`);
      }
    }
    throw new Error(`every dial failed: ${failures.join(' | ')}`);
  },
  connections: () =>
    started()
      .getConnections()
      .map((c) => ({ peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString(), limited: c.limits !== undefined, direction: c.direction })),
  async pull(address, vault, doc) {
    const mine = new DocumentHandle<Scope>();
    const session = await docs!.sync(multiaddr(address), { vault, doc, target: mine });
    await session.synced();
    const items = mine.current().items;
    const keys = Object.keys(items).sort();
    return { keys, sample: [...(items[keys[0] ?? ''] ?? [])], heads: mine.heads() };
  },
  serve(_vault, _doc, count, size) {
    const items: Record<string, Uint8Array> = {};
    for (let i = 0; i < count; i++) items[`k${i}`] = crypto.getRandomValues(new Uint8Array(size));
    served = new DocumentHandle<Scope>(Automerge.from<Scope>({ items }));
    return Promise.resolve({ heads: served.heads() });
  },
  addItem(key, bytes) {
    served!.change((d) => {
      d.items[key] = new Uint8Array(bytes);
    });
  },
  async redeem(text) {
    const result = await new InviteService({ host: started() }).redeem(decodeInvitation(text), {
      name: 'Synthetic Clinic',
      scopes: ['labs'],
      purpose: 'treatment',
      days: 30,
    });
    return { vault: result.approval.vault, scopes: [...result.approval.scopes], patient: result.patient };
  },
  async stop() {
    await docs?.stop();
    await node?.stop();
  },
};

(window as unknown as { pv: PageApi }).pv = api;
