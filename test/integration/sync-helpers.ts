/**
 * Helpers of the sync integration tests: real engines (src/node) over real libp2p on loopback,
 * each with a real src/store Vault (memory backend, weak test KDF) holding its engine state and a
 * real src/records RecordStore per vault (its own, and each one shared with it).
 */
import { generateIdentity, type Identity } from '../../src/crypto/index.js';
import type { ScopeName, VaultId } from '../../src/grants/index.js';
import { VaultNode, prefixedStore, type PullResult, type RecordsPort } from '../../src/node/index.js';
import { RecordStore, fhirJsonProvenance } from '../../src/records/index.js';
import { MemoryStorage, Vault, WEAK_TEST_KDF_COST } from '../../src/store/index.js';
import { createNodeLibp2p, PeerBans, type PendingRequest, type ShareRequest, type SyncLibp2p } from '../../src/sync/index.js';

/** Stores one resource in a scope of a vault's records (an import of one, as a portal would hand it). */
export async function put(records: RecordsPort, scope: ScopeName, id: string, resource: Record<string, unknown>): Promise<void> {
  const [type, ownId] = id.split('/');
  await (records as RecordStore).importResources([
    { resource: { resourceType: type, id: ownId, ...resource } as never, scope, provenance: fhirJsonProvenance(new Date()), sourceKey: `test:${id}` },
  ]);
}

/** The records of a scope this store can read, and how many values it holds but cannot open. */
export async function read(records: RecordsPort, scope: ScopeName): Promise<{ resources: Record<string, unknown>[]; unreadable: number }> {
  const store = records as RecordStore;
  const lines = store.list({ scopes: [scope] });
  const resources = await Promise.all(lines.map(async (line) => (await store.get(line.key))!.resource as unknown as Record<string, unknown>));
  return { resources, unreadable: store.stats()[scope]?.unreadable ?? 0 };
}

/** One device: identity, libp2p node, sealed store, engine, and its records stores by vault. */
export interface Device {
  readonly identity: Identity;
  readonly storage: MemoryStorage;
  readonly libp2p: SyncLibp2p;
  readonly vaultStore: Vault;
  readonly node: VaultNode;
  address(): string;
  stop(): Promise<void>;
}

/** Starts a device; `storage` lets a test restart one on the same data. */
export async function startDevice(options: { identity?: Identity; storage?: MemoryStorage; listen?: string; now?: () => number; maxLoadedShared?: number; unloadEnded?: boolean } = {}): Promise<Device> {
  const identity = options.identity ?? generateIdentity();
  const storage = options.storage ?? new MemoryStorage();
  const vaultStore = options.storage
    ? await Vault.open(storage, { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true })
    : await Vault.create(storage, 'test passphrase, not a secret', { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true });
  if (vaultStore.isLocked()) await vaultStore.unlock('test passphrase, not a secret');
  const bans = new PeerBans();
  const libp2p = await createNodeLibp2p({ identity, bans, listen: [options.listen ?? '/ip4/127.0.0.1/tcp/0'] });
  const node = await VaultNode.start({
    identity,
    libp2p,
    bans,
    store: vaultStore,
    ...(options.now ? { now: options.now } : {}),
    ...(options.maxLoadedShared !== undefined ? { maxLoadedShared: options.maxLoadedShared } : {}),
    ...(options.unloadEnded !== undefined ? { unloadEnded: options.unloadEnded } : {}),
    openRecords: async (vault, role, seed) =>
      RecordStore.open(prefixedStore(vaultStore, `records/${role}/${vault}/`), { vaultId: vault, ...(seed ? { scopeKeys: seed } : {}) }),
  });
  return {
    identity,
    storage,
    libp2p,
    vaultStore,
    node,
    address: () => libp2p.getMultiaddrs()[0]!.toString(),
    async stop() {
      await node.stop();
      await libp2p.stop();
    },
  };
}

/** A clock a test moves by hand, shared by all its devices: the engines' (and so the verifiers') `now`. */
export interface TestClock {
  readonly now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

/** A {@link TestClock} starting at `start` (default: the real time when called). */
export function testClock(start = Date.now()): TestClock {
  let t = start;
  return {
    now: () => t,
    set(ms) {
      t = ms;
    },
    advance(ms) {
      t += ms;
    },
  };
}

/**
 * Shares a vault the patient-side device acts in (its own, or a dependent's it holds: `vault`)
 * with a provider through a one-time invitation the patient side approves as asked.
 */
export async function shareThroughInvitation(patient: Device, provider: Device, request: ShareRequest, options: { vault?: VaultId } = {}): Promise<PullResult> {
  const approve = (e: Event) => {
    const pending = (e as CustomEvent<PendingRequest>).detail;
    if (pending.from === provider.identity.did) void patient.node.approve(pending.id);
  };
  patient.node.addEventListener('request', approve);
  try {
    const invitation = await patient.node.invite(patient.address(), options.vault ? { vault: options.vault } : {});
    return await provider.node.redeem(invitation, request);
  } finally {
    patient.node.removeEventListener('request', approve);
  }
}
