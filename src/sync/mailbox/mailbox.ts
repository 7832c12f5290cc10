import * as Automerge from '@automerge/automerge';
import type { Connection, Stream } from '@libp2p/interface';
import { DocSync, DocumentHandle, type AccessMode, type DocSession, type DocSyncInit, type SessionEnd } from '../doc/index.js';
import { SyncError, describeError } from '../errors.js';
import { FramedStream, RemoteEndError, WIRE_VERSION } from '../framing.js';
import { openStream, remoteDidOf, type DialTarget, type ProtocolHost } from '../host.js';
import type { PeerBans } from '../libp2p/index.js';
import type { Did } from '../../crypto/index.js';
import type { MailboxStorage } from './storage.js';
import {
  MAILBOX_PROTOCOL,
  MAILBOX_READ_TIMEOUT_MS,
  MAX_LISTED_SLOTS,
  MAX_BYTES_PER_DEPOSITOR,
  MAX_LOADED_SLOTS,
  MAX_LOADED_SLOT_BYTES,
  MAX_MAILBOX_MESSAGE_BYTES,
  MAX_SLOTS_PER_DEPOSITOR,
  MAX_SLOT_BYTES,
  PERSIST_DELAY_MS,
  SLOT_IDLE_MS,
} from './constants.js';
import { droppedSchema, requestSchema, slotsSchema, type ListedSlot } from './messages.js';
import { parseSlotDocName, type SlotAddress } from './slot-name.js';

/** Options of {@link Mailbox}. */
export interface MailboxInit {
  /** Where slots persist (LevelDB under the relay's --data). */
  readonly storage: MailboxStorage;
  /** @default MAX_SLOTS_PER_DEPOSITOR (1024) */
  readonly maxSlotsPerDepositor?: number;
  /** @default MAX_SLOT_BYTES (64 MiB) */
  readonly maxSlotBytes?: number;
  /** @default MAX_BYTES_PER_DEPOSITOR (256 MiB) */
  readonly maxBytesPerDepositor?: number;
  /** @default MAX_LOADED_SLOTS (256) */
  readonly maxLoadedSlots?: number;
  /** @default MAX_LOADED_SLOT_BYTES (512 MiB) */
  readonly maxLoadedSlotBytes?: number;
  /** @default SLOT_IDLE_MS (5 s) */
  readonly slotIdleMs?: number;
  /** Sessions one peer may hold at the relay at once. @default DOC_MAX_SESSIONS_PER_PEER (64) */
  readonly maxSessionsPerPeer?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Told when a doc session at the mailbox ends (for the relay's log). */
  readonly onSessionEnd?: (end: SessionEnd) => void;
}

/** Components of {@link Mailbox}. */
export interface MailboxComponents {
  readonly host: ProtocolHost;
  readonly bans?: PeerBans;
}

interface Slot {
  readonly vault: string;
  readonly doc: string;
  readonly address: SlotAddress;
  readonly handle: DocumentHandle;
  /** Size of the document as last saved. */
  savedBytes: number;
  /** Bytes of frames admitted from the depositor since the last save (they count against quotas). */
  admittedBytes: number;
  /** Whether the document changed since the last save (admitted frames that changed nothing occupy nothing). */
  dirty: boolean;
  /** When a session last asked for this slot (epoch ms). */
  usedAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const DATA = 'mailbox/doc/';
const INDEX = 'mailbox/to/';
const FROM = 'mailbox/from/';

/**
 * Store-and-forward for parties that are offline: a depositor (the patient's device, or a provider
 * pushing to a patient's inbox) syncs a sealed Automerge document into a slot addressed to one
 * recipient; the recipient syncs it out later. The relay holds no key: it merges documents of
 * sealed values through Automerge and never opens them. Access follows the slot's name, proven by
 * Noise: the depositor may write, the recipient may read, nobody else may do anything.
 */
export class Mailbox {
  /** The doc protocol this mailbox serves slots with. */
  readonly docs: DocSync;
  private readonly host: ProtocolHost;
  private readonly init: MailboxInit;
  /** Loaded slots, least recently used first. */
  private readonly slots = new Map<string, Slot>();
  private readonly loading = new Map<string, Promise<Slot | undefined>>();
  /** Bytes each depositor keeps here (saved + admitted), for those with a session since loading. */
  private readonly usage = new Map<Did, number>();
  private readonly now: () => number;
  private started = false;

  constructor(components: MailboxComponents, init: MailboxInit) {
    this.host = components.host;
    this.init = init;
    this.now = init.now ?? Date.now;
    const docInit: DocSyncInit = {
      authorize: (remote, vault, doc) => this.authorize(remote, vault, doc),
      resolve: (vault, doc, remote, access) => this.resolve(vault, doc, remote, access),
      admit: (session, claimed) => this.admit(session, claimed),
      onSessionEnd: (end) => {
        void this.evictIdle().catch(() => undefined);
        init.onSessionEnd?.(end);
      },
      ...(init.maxSessionsPerPeer !== undefined ? { maxSessionsPerPeer: init.maxSessionsPerPeer } : {}),
    };
    this.docs = new DocSync(components.bans ? { host: components.host, bans: components.bans } : { host: components.host }, docInit);
  }

  /** Registers the doc and mailbox protocols. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.docs.start();
    await this.host.handle(MAILBOX_PROTOCOL, (stream, connection) => this.handleControl(stream, connection), {
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
      runOnLimitedConnection: true,
    });
    this.started = true;
  }

  /** Stops serving and writes every pending slot. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.host.unhandle(MAILBOX_PROTOCOL);
    await this.docs.stop();
    await Promise.all([...this.slots.values()].map((slot) => this.persist(slot)));
  }

  /** How many slots are held in memory now. */
  loadedSlots(): number {
    return this.slots.size;
  }

  /** Bytes `depositor` keeps at this relay (saved slots plus frames admitted since). */
  async bytesOf(depositor: Did): Promise<number> {
    return this.usageOf(depositor);
  }

  private async authorize(remote: Did, vault: string, doc: string): Promise<AccessMode | false> {
    const address = parseSlotDocName(doc);
    if (!address) return false;
    if (remote === address.depositor) {
      const slot = await this.slot(vault, doc, false);
      const over = slot !== undefined && slot.savedBytes + slot.admittedBytes >= this.maxSlotBytes();
      return over ? 'read' : 'write';
    }
    // The recipient reads only while the slot exists: a dropped slot ends its sessions.
    if (remote === address.recipient) return (await this.slot(vault, doc, false)) ? 'read' : false;
    return false;
  }

  private async resolve(vault: string, doc: string, remote: Did, access: AccessMode): Promise<DocumentHandle | undefined> {
    const address = parseSlotDocName(doc);
    if (!address) return undefined;
    // Only the depositor creates a slot; a recipient asking early gets NOT_FOUND.
    const slot = await this.slot(vault, doc, remote === address.depositor && access === 'write');
    // Known before the session's first frame (admission is synchronous), and kept while the slot is
    // loaded: a session's slot is not unloaded, nor the usage of a depositor with a loaded slot.
    if (slot && access === 'write') await this.usageOf(address.depositor);
    return slot?.handle;
  }

  private maxSlotBytes(): number {
    return this.init.maxSlotBytes ?? MAX_SLOT_BYTES;
  }

  /**
   * The quota check of every frame a depositor announces, before it is buffered: the slot's room
   * and the depositor's over all its slots. Refused frames end the session with LIMIT_REACHED;
   * the depositor is not banned (a full mailbox is not misbehaviour) and may read the slot still.
   */
  private admit(session: DocSession, claimed: number): void {
    const slot = this.slots.get(this.key(session.vault, session.doc));
    if (!slot) throw new SyncError('LIMIT_REACHED', 'this slot is no longer held here');
    const depositor = slot.address.depositor;
    if (!slot.dirty && slot.admittedBytes > 0) {
      // The frames admitted since the last save changed nothing (sync rounds, known changes).
      const stale = this.usage.get(depositor);
      if (stale !== undefined) this.usage.set(depositor, Math.max(0, stale - slot.admittedBytes));
      slot.admittedBytes = 0;
    }
    const held = slot.savedBytes + slot.admittedBytes;
    if (held + claimed > this.maxSlotBytes()) {
      throw new SyncError('LIMIT_REACHED', `a frame of ${claimed} bytes does not fit this slot (${held} of ${this.maxSlotBytes()} bytes held)`);
    }
    const used = this.usage.get(depositor) ?? held;
    const quota = this.init.maxBytesPerDepositor ?? MAX_BYTES_PER_DEPOSITOR;
    if (used + claimed > quota) {
      throw new SyncError('LIMIT_REACHED', `a frame of ${claimed} bytes exceeds this depositor's quota (${used} of ${quota} bytes held)`);
    }
    slot.admittedBytes += claimed;
    this.usage.set(depositor, used + claimed);
  }

  /** Bytes `depositor` keeps here: computed from storage once, then kept up to date. */
  private async usageOf(depositor: Did): Promise<number> {
    const known = this.usage.get(depositor);
    if (known !== undefined) return known;
    let total = 0;
    const prefix = `${FROM}${depositor}/`;
    const limit = (this.init.maxSlotsPerDepositor ?? MAX_SLOTS_PER_DEPOSITOR) + 1;
    const counted = new Set<string>();
    for await (const { key, value } of this.init.storage.range(prefix, { limit })) {
      const [vaultPart, docPart] = key.slice(prefix.length).split('/');
      if (vaultPart === undefined || docPart === undefined) continue;
      const slotKey = this.key(decodeURIComponent(vaultPart), decodeURIComponent(docPart));
      counted.add(slotKey);
      const loaded = this.slots.get(slotKey);
      if (loaded) total += loaded.savedBytes + loaded.admittedBytes;
      else total += await this.storedSize(value, decodeURIComponent(vaultPart), decodeURIComponent(docPart));
    }
    for (const [slotKey, slot] of this.slots) {
      if (slot.address.depositor === depositor && !counted.has(slotKey)) total += slot.savedBytes + slot.admittedBytes;
    }
    // Another call may have filled it meanwhile; the first one stands.
    const raced = this.usage.get(depositor);
    if (raced !== undefined) return raced;
    this.usage.set(depositor, total);
    this.trimUsage();
    return total;
  }

  /**
   * Keeps the usage cache bounded: a flood of fresh peers asking for slots must not grow it. Entries
   * of depositors with no loaded slot go first (they are recomputed from storage when needed).
   */
  private trimUsage(): void {
    const cap = 4 * (this.init.maxLoadedSlots ?? MAX_LOADED_SLOTS);
    if (this.usage.size <= cap) return;
    const loaded = new Set([...this.slots.values()].map((s) => s.address.depositor));
    for (const depositor of this.usage.keys()) {
      if (this.usage.size <= cap) return;
      if (!loaded.has(depositor)) this.usage.delete(depositor);
    }
  }

  /** A slot's saved size from its index entry (older relays wrote none: then the document's length). */
  private async storedSize(indexValue: Uint8Array, vault: string, doc: string): Promise<number> {
    const size = decodeSize(indexValue);
    if (size !== undefined) return size;
    return (await this.init.storage.get(this.dataKey(vault, doc)))?.length ?? 0;
  }

  private dataKey(vault: string, doc: string): string {
    return `${DATA}${encodeURIComponent(vault)}/${encodeURIComponent(doc)}`;
  }

  /**
   * Unloads idle slots (no session on them, unused for `slotIdleMs`) beyond the memory caps,
   * least recently used first, after writing them. Sessions in use keep their slots loaded, so the
   * caps can be exceeded while that many are in use (bounded by the sessions caps).
   */
  private async evictIdle(): Promise<void> {
    const maxSlots = this.init.maxLoadedSlots ?? MAX_LOADED_SLOTS;
    const maxBytes = this.init.maxLoadedSlotBytes ?? MAX_LOADED_SLOT_BYTES;
    const idleMs = this.init.slotIdleMs ?? SLOT_IDLE_MS;
    let bytes = 0;
    for (const slot of this.slots.values()) bytes += slot.savedBytes + slot.admittedBytes;
    if (this.slots.size <= maxSlots && bytes <= maxBytes) return;
    const busy = new Set(this.docs.sessions().map((s) => this.key(s.vault, s.doc)));
    for (const [key, slot] of [...this.slots]) {
      if (this.slots.size <= maxSlots && bytes <= maxBytes) return;
      if (busy.has(key) || this.now() - slot.usedAt < idleMs) continue;
      await this.persist(slot);
      // Checked again after the write: a session may have come for it meanwhile.
      const inUse = this.docs.sessions().some((s) => this.key(s.vault, s.doc) === key);
      if (inUse || slot.timer !== undefined || this.now() - slot.usedAt < idleMs || this.slots.get(key) !== slot) continue;
      this.slots.delete(key);
      bytes -= slot.savedBytes + slot.admittedBytes;
      if (![...this.slots.values()].some((s) => s.address.depositor === slot.address.depositor)) this.usage.delete(slot.address.depositor);
    }
  }

  private key(vault: string, doc: string): string {
    return `${vault}\u0000${doc}`;
  }

  private async slot(vault: string, doc: string, create: boolean): Promise<Slot | undefined> {
    const key = this.key(vault, doc);
    const held = this.slots.get(key);
    if (held) {
      // Most recently used goes last.
      this.slots.delete(key);
      this.slots.set(key, held);
      held.usedAt = this.now();
      return held;
    }
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.load(vault, doc);
      this.loading.set(key, pending);
      pending.finally(() => this.loading.delete(key)).catch(() => undefined);
    }
    const loaded = await pending;
    if (loaded) return loaded;
    if (!create) return undefined;
    const address = parseSlotDocName(doc)!;
    const count = await this.countSlotsOf(address.depositor);
    if (count >= (this.init.maxSlotsPerDepositor ?? MAX_SLOTS_PER_DEPOSITOR)) {
      throw new SyncError('LIMIT_REACHED', 'this depositor holds the most slots allowed');
    }
    return this.slots.get(key) ?? this.adopt(vault, doc, address, new DocumentHandle(), 0);
  }

  /** Called after a slot was loaded or created: the memory caps may need an idle slot unloaded. */
  private afterAdopt(): void {
    void this.evictIdle().catch(() => undefined);
  }

  private async load(vault: string, doc: string): Promise<Slot | undefined> {
    const bytes = await this.init.storage.get(this.dataKey(vault, doc));
    if (!bytes) return undefined;
    const address = parseSlotDocName(doc);
    if (!address) return undefined;
    let loaded: Automerge.Doc<unknown>;
    try {
      loaded = Automerge.load<unknown>(bytes);
    } catch {
      return undefined;
    }
    return this.slots.get(this.key(vault, doc)) ?? this.adopt(vault, doc, address, new DocumentHandle(loaded), bytes.length);
  }

  private adopt(vault: string, doc: string, address: SlotAddress, handle: DocumentHandle, savedBytes: number): Slot {
    const slot: Slot = { vault, doc, address, handle, savedBytes, admittedBytes: 0, dirty: false, usedAt: this.now(), timer: undefined };
    this.slots.set(this.key(vault, doc), slot);
    handle.subscribe(() => {
      slot.dirty = true;
      this.schedule(slot);
    });
    this.afterAdopt();
    return slot;
  }

  private schedule(slot: Slot): void {
    if (slot.timer !== undefined) return;
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      void this.persist(slot).catch(() => undefined);
    }, PERSIST_DELAY_MS);
  }

  private async persist(slot: Slot): Promise<void> {
    if (slot.timer !== undefined) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    if (this.slots.get(this.key(slot.vault, slot.doc)) !== slot) return;
    // Unchanged since loaded or saved: storage holds it already (a refused first deposit leaves nothing).
    if (!slot.dirty) return;
    const bytes = Automerge.save(slot.handle.current());
    // The saved size replaces what was held before plus what was admitted since.
    const depositor = slot.address.depositor;
    const used = this.usage.get(depositor);
    if (used !== undefined) this.usage.set(depositor, Math.max(0, used - slot.savedBytes - slot.admittedBytes + bytes.length));
    slot.savedBytes = bytes.length;
    slot.admittedBytes = 0;
    slot.dirty = false;
    await this.init.storage.batch([
      { type: 'put', key: this.dataKey(slot.vault, slot.doc), value: bytes },
      { type: 'put', key: this.indexKey(slot.address.recipient, slot.vault, slot.doc), value: new Uint8Array(0) },
      { type: 'put', key: this.fromKey(slot.address.depositor, slot.vault, slot.doc), value: encodeSize(bytes.length) },
    ]);
  }

  private indexKey(recipient: Did, vault: string, doc: string): string {
    return `${INDEX}${recipient}/${encodeURIComponent(vault)}/${encodeURIComponent(doc)}`;
  }

  /** Slots of `depositor`, held in storage or created and not yet written. */
  private async countSlotsOf(depositor: Did): Promise<number> {
    const keys = new Set<string>();
    const limit = (this.init.maxSlotsPerDepositor ?? MAX_SLOTS_PER_DEPOSITOR) + 1;
    for await (const { key } of this.init.storage.range(`${FROM}${depositor}/`, { limit })) keys.add(key);
    for (const slot of this.slots.values()) {
      if (slot.address.depositor === depositor) keys.add(this.fromKey(depositor, slot.vault, slot.doc));
    }
    return keys.size;
  }

  private fromKey(depositor: Did, vault: string, doc: string): string {
    return `${FROM}${depositor}/${encodeURIComponent(vault)}/${encodeURIComponent(doc)}`;
  }

  private async listFor(recipient: Did): Promise<ListedSlot[]> {
    const found: ListedSlot[] = [];
    for await (const { key } of this.init.storage.range(`${INDEX}${recipient}/`, { limit: MAX_LISTED_SLOTS })) {
      const [vaultPart, docPart] = key.slice(`${INDEX}${recipient}/`.length).split('/');
      if (vaultPart === undefined || docPart === undefined) continue;
      const vault = decodeURIComponent(vaultPart);
      const doc = decodeURIComponent(docPart);
      const slot = await this.slot(vault, doc, false);
      if (slot) found.push({ vault, doc, heads: Automerge.getHeads(slot.handle.current()) });
    }
    return found;
  }

  private async drop(depositor: Did, vault: string, doc: string): Promise<boolean> {
    const address = parseSlotDocName(doc);
    if (!address || address.depositor !== depositor) throw new SyncError('NOT_AUTHORIZED', 'only the depositor may drop a slot');
    const slot = await this.slot(vault, doc, false);
    this.slots.delete(this.key(vault, doc));
    if (slot?.timer !== undefined) clearTimeout(slot.timer);
    const used = this.usage.get(depositor);
    if (slot && used !== undefined) this.usage.set(depositor, Math.max(0, used - slot.savedBytes - slot.admittedBytes));
    await this.init.storage.batch([
      { type: 'delete', key: this.dataKey(vault, doc) },
      { type: 'delete', key: this.indexKey(address.recipient, vault, doc) },
      { type: 'delete', key: this.fromKey(address.depositor, vault, doc) },
    ]);
    // Sessions still syncing the dropped slot (e.g. a revoked recipient's) end now.
    await this.docs.reauthorize((s) => s.vault === vault && s.doc === doc);
    return slot !== undefined;
  }

  private async handleControl(stream: Stream, connection: Connection): Promise<void> {
    const framed = new FramedStream(stream, { maxMessageBytes: MAX_MAILBOX_MESSAGE_BYTES, readTimeoutMs: MAILBOX_READ_TIMEOUT_MS });
    try {
      const remote = remoteDidOf(connection);
      const request = await framed.read(requestSchema);
      if (request.t === 'list') {
        await framed.write({ v: WIRE_VERSION, t: 'slots', slots: await this.listFor(remote) });
      } else {
        await framed.write({ v: WIRE_VERSION, t: 'dropped', existed: await this.drop(remote, request.vault, request.doc) });
      }
      await framed.close();
    } catch (error) {
      const failure = error instanceof SyncError ? error : new SyncError('INTERNAL', describeError(error), { cause: error });
      if (error instanceof RemoteEndError) framed.abort(failure);
      else await framed.end(failure.code, failure.message);
    }
  }
}

/** A slot's saved size as its depositor index entry holds it (decimal ASCII). */
function encodeSize(bytes: number): Uint8Array {
  return new TextEncoder().encode(String(bytes));
}

function decodeSize(value: Uint8Array): number | undefined {
  if (value.length === 0 || value.length > 16) return undefined;
  const size = Number(new TextDecoder().decode(value));
  return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}

/** The client side of the mailbox control protocol. */
export class MailboxClient {
  private readonly host: ProtocolHost;

  constructor(components: { host: ProtocolHost }) {
    this.host = components.host;
  }

  /** The slots waiting at `relay` for this node. */
  async list(relay: DialTarget, options: { signal?: AbortSignal } = {}): Promise<ListedSlot[]> {
    const framed = await this.open(relay, options);
    try {
      await framed.write({ v: WIRE_VERSION, t: 'list' });
      const answer = await framed.read(slotsSchema);
      await framed.close();
      return answer.slots;
    } catch (error) {
      framed.abort(error instanceof SyncError ? error : new SyncError('INTERNAL', describeError(error)));
      throw error;
    }
  }

  /** Asks `relay` to forget a slot this node deposited. Resolves whether it existed. */
  async drop(relay: DialTarget, vault: string, doc: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const framed = await this.open(relay, options);
    try {
      await framed.write({ v: WIRE_VERSION, t: 'drop', vault, doc });
      const answer = await framed.read(droppedSchema);
      await framed.close();
      return answer.existed;
    } catch (error) {
      framed.abort(error instanceof SyncError ? error : new SyncError('INTERNAL', describeError(error)));
      throw error;
    }
  }

  private async open(relay: DialTarget, options: { signal?: AbortSignal }): Promise<FramedStream> {
    const { stream } = await openStream(this.host, relay, MAILBOX_PROTOCOL, options.signal ? { signal: options.signal } : {});
    return new FramedStream(stream, { maxMessageBytes: MAX_MAILBOX_MESSAGE_BYTES, readTimeoutMs: MAILBOX_READ_TIMEOUT_MS });
  }
}
