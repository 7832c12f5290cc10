import * as Automerge from '@automerge/automerge';
import type { Connection, Stream } from '@libp2p/interface';
import { DocSync, DocumentHandle, type AccessMode, type DocSyncInit, type SessionEnd } from '../doc/index.js';
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
  MAX_MAILBOX_MESSAGE_BYTES,
  MAX_SLOTS_PER_DEPOSITOR,
  MAX_SLOT_BYTES,
  PERSIST_DELAY_MS,
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
  savedBytes: number;
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
  private readonly slots = new Map<string, Slot>();
  private readonly loading = new Map<string, Promise<Slot | undefined>>();
  private started = false;

  constructor(components: MailboxComponents, init: MailboxInit) {
    this.host = components.host;
    this.init = init;
    const docInit: DocSyncInit = {
      authorize: (remote, vault, doc) => this.authorize(remote, vault, doc),
      resolve: (vault, doc, remote, access) => this.resolve(vault, doc, remote, access),
      ...(init.onSessionEnd ? { onSessionEnd: init.onSessionEnd } : {}),
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

  private async authorize(remote: Did, vault: string, doc: string): Promise<AccessMode | false> {
    const address = parseSlotDocName(doc);
    if (!address) return false;
    if (remote === address.depositor) {
      const slot = await this.slot(vault, doc, false);
      const over = slot !== undefined && slot.savedBytes > (this.init.maxSlotBytes ?? MAX_SLOT_BYTES);
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
    return slot?.handle;
  }

  private key(vault: string, doc: string): string {
    return `${vault}\u0000${doc}`;
  }

  private async slot(vault: string, doc: string, create: boolean): Promise<Slot | undefined> {
    const key = this.key(vault, doc);
    const held = this.slots.get(key);
    if (held) return held;
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

  private async load(vault: string, doc: string): Promise<Slot | undefined> {
    const bytes = await this.init.storage.get(`${DATA}${encodeURIComponent(vault)}/${encodeURIComponent(doc)}`);
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
    const slot: Slot = { vault, doc, address, handle, savedBytes, timer: undefined };
    this.slots.set(this.key(vault, doc), slot);
    handle.subscribe(() => this.schedule(slot));
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
    if (!this.slots.has(this.key(slot.vault, slot.doc))) return;
    const bytes = Automerge.save(slot.handle.current());
    slot.savedBytes = bytes.length;
    await this.init.storage.batch([
      { type: 'put', key: `${DATA}${encodeURIComponent(slot.vault)}/${encodeURIComponent(slot.doc)}`, value: bytes },
      { type: 'put', key: this.indexKey(slot.address.recipient, slot.vault, slot.doc), value: new Uint8Array(0) },
      { type: 'put', key: this.fromKey(slot.address.depositor, slot.vault, slot.doc), value: new Uint8Array(0) },
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
    await this.init.storage.batch([
      { type: 'delete', key: `${DATA}${encodeURIComponent(vault)}/${encodeURIComponent(doc)}` },
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
