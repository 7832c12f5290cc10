import { generateIdentity, identityFromSecretKey, type Identity } from '../crypto/index.js';
import { PeerBans } from './libp2p/index.js';
import { createRelayLibp2p, type RelayLibp2p } from './libp2p/node.js';
import { Mailbox, type MailboxInit, type MailboxStorage } from './mailbox/index.js';
import type { SessionEnd } from './doc/index.js';

/** Options of {@link startRelay}. */
export interface RelayInit {
  /** Persistent store for the mailbox and the relay's own key (LevelDB under --data). */
  readonly storage: MailboxStorage & { put(key: string, value: Uint8Array): Promise<void> };
  /**
   * WebSocket port for browsers; TCP listens on `port + 1` for Node peers. 0 picks free ports.
   * @default 0
   */
  readonly port?: number;
  /** Interface to listen on. @default '0.0.0.0' */
  readonly host?: string;
  /** Told when a mailbox session ends. */
  readonly onSessionEnd?: (end: SessionEnd) => void;
  /** Mailbox quotas and memory caps (each defaults to its constant in mailbox/constants.ts). */
  readonly limits?: RelayLimits;
}

/** The relay's mailbox quotas and memory caps. */
export type RelayLimits = Pick<
  MailboxInit,
  'maxSlotBytes' | 'maxBytesPerDepositor' | 'maxSlotsPerDepositor' | 'maxLoadedSlots' | 'maxLoadedSlotBytes' | 'slotIdleMs' | 'maxSessionsPerPeer'
>;

/** A running relay. */
export interface Relay {
  readonly node: RelayLibp2p;
  readonly mailbox: Mailbox;
  readonly identity: Identity;
  /** The addresses to give clients (each ends in /p2p/<relay id>). */
  multiaddrs(): string[];
  stop(): Promise<void>;
}

const IDENTITY_KEY = 'relay/identity';

/**
 * Starts the relay: circuit-relay-v2 server (unlimited relayed connections, 1024 reservations),
 * WebSocket and TCP listeners, and the store-and-forward mailbox. The relay's key is kept in its
 * store so its address survives restarts. It sees Noise-encrypted streams and sealed documents only.
 */
export async function startRelay(init: RelayInit): Promise<Relay> {
  const identity = await relayIdentity(init.storage);
  const port = init.port ?? 0;
  const host = init.host ?? '0.0.0.0';
  const bans = new PeerBans();
  const listen = [`/ip4/${host}/tcp/${port}/ws`, `/ip4/${host}/tcp/${port === 0 ? 0 : port + 1}`];
  const node = await createRelayLibp2p({ identity, bans, listen });
  const mailbox = new Mailbox({ host: node, bans }, { ...init.limits, storage: init.storage, ...(init.onSessionEnd ? { onSessionEnd: init.onSessionEnd } : {}) });
  await mailbox.start();
  return {
    node,
    mailbox,
    identity,
    multiaddrs: () => node.getMultiaddrs().map((m) => m.toString()),
    async stop() {
      await mailbox.stop();
      await node.stop();
    },
  };
}

async function relayIdentity(storage: RelayInit['storage']): Promise<Identity> {
  const stored = await storage.get(IDENTITY_KEY);
  if (stored && stored.length === 32) return identityFromSecretKey(stored);
  const identity = generateIdentity();
  await storage.put(IDENTITY_KEY, identity.secretKey);
  return identity;
}
