/**
 * Helpers of the sync integration tests: real engines (src/node) over real libp2p on loopback,
 * each with a real src/store Vault (memory backend, weak test KDF).
 *
 * `SealedScopes` is a small records store with the {@link RecordsPort} shape: per scope an
 * Automerge document of AES-GCM sealed values (epoch ‖ seal(key of that epoch, JSON, vault/scope/
 * slot)) under HMAC slots, and a keyring of epochs. It stands in for src/records' RecordStore, which
 * has the same five methods, until that store is exported from src/records/index.ts.
 */
import * as Automerge from '@automerge/automerge';
import { asSymmetricKey, generateIdentity, generateKey, hmacSha256, open, seal, toHex, utf8, fromUtf8, type Identity } from '../../src/crypto/index.js';
import type { ScopeName, VaultId } from '../../src/grants/index.js';
import { VaultNode, type RecordsPort, type ScopeKeyExport } from '../../src/node/index.js';
import { MemoryStorage, Vault, WEAK_TEST_KDF_COST } from '../../src/store/index.js';
import { createNodeLibp2p, PeerBans, type SyncLibp2p } from '../../src/sync/index.js';

type ScopeDocRoot = { v: Record<string, Uint8Array> };
interface Keys {
  indexKey: Uint8Array;
  epochs: Map<number, Uint8Array>;
  current: number;
}

/** A real sealed records store of one vault (see the module comment). */
export class SealedScopes implements RecordsPort {
  private readonly docs = new Map<ScopeName, Automerge.Doc<ScopeDocRoot>>();
  private readonly keys = new Map<ScopeName, Keys>();

  constructor(
    readonly vault: VaultId,
    ownScopes: readonly ScopeName[] = [],
  ) {
    for (const scope of ownScopes) this.keys.set(scope, { indexKey: generateKey(), epochs: new Map([[0, generateKey()]]), current: 0 });
  }

  private doc(scope: ScopeName): Automerge.Doc<ScopeDocRoot> {
    let doc = this.docs.get(scope);
    if (!doc) {
      doc = Automerge.init<ScopeDocRoot>();
      this.docs.set(scope, doc);
    }
    return doc;
  }

  private ad(scope: ScopeName, slot: string): Uint8Array {
    return utf8(`${this.vault}/${scope}/${slot}`);
  }

  /** Seals and stores one resource under the scope's current epoch. */
  async put(scope: ScopeName, id: string, resource: unknown): Promise<void> {
    const keys = this.keys.get(scope);
    if (!keys) throw new Error(`no key for ${scope}`);
    const slot = toHex(hmacSha256(keys.indexKey, utf8(id))).slice(0, 32);
    const sealed = await seal(asSymmetricKey(keys.epochs.get(keys.current)!), utf8(JSON.stringify(resource)), this.ad(scope, slot));
    const value = new Uint8Array(4 + sealed.length);
    new DataView(value.buffer).setUint32(0, keys.current);
    value.set(sealed, 4);
    const next = Automerge.change(this.doc(scope), (d) => {
      if (!d.v) d.v = {};
      d.v[slot] = value;
    });
    this.docs.set(scope, next);
  }

  /** Every value of a scope this store can open, and how many it cannot. */
  async read(scope: ScopeName): Promise<{ resources: unknown[]; unreadable: number }> {
    const keys = this.keys.get(scope);
    const resources: unknown[] = [];
    let unreadable = 0;
    for (const [slot, value] of Object.entries(this.doc(scope).v ?? {})) {
      const epoch = new DataView(value.buffer, value.byteOffset).getUint32(0);
      const key = keys?.epochs.get(epoch);
      if (!key) {
        unreadable++;
        continue;
      }
      resources.push(JSON.parse(fromUtf8(await open(asSymmetricKey(key), value.subarray(4), this.ad(scope, slot)))));
    }
    return { resources, unreadable };
  }

  scopeDoc(scope: ScopeName): Promise<Automerge.Doc<unknown>> {
    return Promise.resolve(Automerge.clone(this.doc(scope)) as Automerge.Doc<unknown>);
  }

  applyScopeDoc(scope: ScopeName, doc: Automerge.Doc<unknown>): Promise<void> {
    const mine = this.doc(scope);
    if (!Automerge.hasHeads(doc, Automerge.getHeads(mine))) return Promise.reject(new Error('document does not contain the changes already stored'));
    this.docs.set(scope, Automerge.clone(doc as Automerge.Doc<ScopeDocRoot>));
    return Promise.resolve();
  }

  rotateScopeKey(scope: ScopeName): Promise<number> {
    const keys = this.keys.get(scope)!;
    keys.current += 1;
    keys.epochs.set(keys.current, generateKey());
    return Promise.resolve(keys.current);
  }

  exportScopeKeys(scope: ScopeName, epochs?: readonly number[]): ScopeKeyExport {
    const keys = this.keys.get(scope)!;
    return { scope, indexKey: keys.indexKey, epochs: [...keys.epochs].filter(([e]) => !epochs || epochs.includes(e)).map(([epoch, key]) => ({ epoch, key })) };
  }

  importScopeKeys(exported: ScopeKeyExport): Promise<void> {
    const keys = this.keys.get(exported.scope) ?? { indexKey: exported.indexKey, epochs: new Map<number, Uint8Array>(), current: 0 };
    for (const { epoch, key } of exported.epochs) keys.epochs.set(epoch, key);
    keys.current = Math.max(...keys.epochs.keys());
    this.keys.set(exported.scope, keys);
    return Promise.resolve();
  }
}

/** One device: identity, libp2p node, sealed store, engine, and its records stores by vault. */
export interface Device {
  readonly identity: Identity;
  readonly storage: MemoryStorage;
  readonly libp2p: SyncLibp2p;
  readonly vaultStore: Vault;
  readonly node: VaultNode;
  readonly records: Map<string, SealedScopes>;
  address(): string;
  stop(): Promise<void>;
}

const ALL_SCOPES: ScopeName[] = ['summary', 'labs', 'notes', 'imaging', 'mental-health', 'substance-use', 'reproductive', 'genomics'];

/** Starts a device; `storage` lets a test restart one on the same data. */
export async function startDevice(options: { identity?: Identity; storage?: MemoryStorage; records?: Map<string, SealedScopes>; listen?: string } = {}): Promise<Device> {
  const identity = options.identity ?? generateIdentity();
  const storage = options.storage ?? new MemoryStorage();
  const vaultStore = options.storage
    ? await Vault.open(storage, { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true })
    : await Vault.create(storage, 'test passphrase, not a secret', { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true });
  if (vaultStore.isLocked()) await vaultStore.unlock('test passphrase, not a secret');
  const bans = new PeerBans();
  const libp2p = await createNodeLibp2p({ identity, bans, listen: [options.listen ?? '/ip4/127.0.0.1/tcp/0'] });
  const records = options.records ?? new Map<string, SealedScopes>();
  const node = await VaultNode.start({
    identity,
    libp2p,
    bans,
    store: vaultStore,
    openRecords: (vault, role) => {
      let r = records.get(vault);
      if (!r) {
        r = new SealedScopes(vault, role === 'own' ? ALL_SCOPES : []);
        records.set(vault, r);
      }
      return Promise.resolve(r);
    },
  });
  return {
    identity,
    storage,
    libp2p,
    vaultStore,
    node,
    records,
    address: () => libp2p.getMultiaddrs()[0]!.toString(),
    async stop() {
      await node.stop();
      await libp2p.stop();
    },
  };
}
