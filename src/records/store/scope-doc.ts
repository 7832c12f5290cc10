/**
 * The Automerge document of one scope.
 *
 * Layout: `{ f: 1, s: { [segmentId]: { r: Shards, h: Shards } } }` with
 * `Shards = { [shard]: { [key]: Uint8Array } }`. In `r` the key is a record's slot and the value its
 * current sealed version; in `h` the key is `slot.versionId` and the value a superseded version.
 * Shards are the first byte of the slot (256 per map). Only opaque bytes and hex names are in the
 * document, so a node without keys can keep and merge it.
 *
 * Why segments: Automerge 3 stores ops in columns ordered by object; putting a value into an
 * existing map splices it into the middle of the columns (measured here: 2,000 × 700 B puts into a
 * 10k-record document took 3.3 s and 1.2 GB), while a new object's ops land at the end (the same
 * values as one new object: 30–130 ms). So a large write becomes a new segment, and small writes go
 * into maps in place. A record is found by looking in every segment (a handful).
 *
 * Why a backend handle and not a materialized `Automerge.Doc`: the store reads single values and
 * writes batches; it never needs the whole document as JS objects. `Automerge.change` builds a
 * patch and a JS value for every value written and `Automerge.load` materializes every value
 * (measured with 10k values: change 0.5–2.2 s vs 0.25–0.7 s on the backend; load 0.2–0.5 s vs
 * 0.12–0.16 s). {@link ScopeDocument.toDoc} makes a regular document when one is needed (sync).
 *
 * Concurrency rules, so that merging never hides data:
 * - the skeleton `{ f, s }` is one deterministic change (fixed actor, time 0), identical on every
 *   device, so two devices that each create the document do not conflict on `s`;
 * - a device creates objects (segments, shard maps) only inside segments it created itself;
 * - in other segments it only puts or deletes values under existing shard maps.
 * Concurrent puts of one slot are then an Automerge conflict (several values at one key), and a
 * record written at two places (two segments) is found by the lookup; both surface as a record
 * conflict.
 */
import * as Automerge from '@automerge/automerge';
import { randomBytes, toHex } from '../../crypto/index.js';
import { BULK_SEGMENT_MIN, SCOPE_DOC_FORMAT, SEGMENT_ID_BYTES } from './constants.js';
import { RecordStoreError } from './errors.js';
import { isSlot, shardOf } from './record-codec.js';
import type { Slot } from './types.js';

/** Shard → key → sealed value. */
export type Shards = Record<string, Record<string, Uint8Array>>;
/** One segment: current values (`r`) and superseded versions (`h`). */
export interface SegmentNode {
  r: Shards;
  h: Shards;
}
/** The root of a scope document, as `Automerge.Doc` sees it. */
export interface ScopeDocRoot {
  f: number;
  s: Record<string, SegmentNode>;
}

type Backend = ReturnType<typeof Automerge.getBackend>;

/** The actor of the deterministic skeleton change (never used for anything else). */
const SKELETON_ACTOR = '00'.repeat(16);
let skeleton: Uint8Array | undefined;

function skeletonBytes(): Uint8Array {
  if (!skeleton) {
    const doc = Automerge.change(Automerge.init<ScopeDocRoot>({ actor: SKELETON_ACTOR }), { time: 0 }, (d) => {
      d.f = SCOPE_DOC_FORMAT;
      d.s = {};
    });
    skeleton = Automerge.save(doc);
  }
  return skeleton;
}

/** A fresh device actor id (16 random bytes, hex). */
export function newActorId(): string {
  return toHex(randomBytes(16));
}

/** A fresh segment id. */
export function newSegmentId(): string {
  return toHex(randomBytes(SEGMENT_ID_BYTES));
}

/** One place a value of a record was found. */
export interface FoundValue {
  seg: string;
  value: Uint8Array;
}

function emptyBackend(actor: string): Backend {
  return Automerge.getBackend(Automerge.init({ actor }));
}

/** One scope document, held as an Automerge backend (see the module comment). */
export class ScopeDocument {
  private readonly sId: string;
  private readonly segIds = new Map<string, { r: string; h: string }>();

  private constructor(
    private readonly handle: Backend,
    where: string,
  ) {
    const f = handle.getWithType('_root', 'f');
    const s = handle.getWithType('_root', 's');
    if (!f || (f[0] !== 'int' && f[0] !== 'uint') || !s || s[0] !== 'map') {
      throw new RecordStoreError('CORRUPT_RECORD', `${where} is not a scope document`);
    }
    if (f[1] > SCOPE_DOC_FORMAT) throw new RecordStoreError('NEWER_FORMAT', `${where} was written by a newer version of Patient Vault`);
    this.sId = s[1];
  }

  /** An empty document for `actor`: the shared skeleton, so documents made apart still merge. */
  static create(actor: string): ScopeDocument {
    const handle = emptyBackend(actor);
    handle.loadIncremental(skeletonBytes());
    return new ScopeDocument(handle, 'a new scope document');
  }

  /** Loads saved bytes (a snapshot, optionally followed by incremental saves). */
  static load(bytes: Uint8Array, actor: string, where: string): ScopeDocument {
    const handle = emptyBackend(actor);
    try {
      handle.loadIncremental(bytes);
    } catch (cause) {
      handle.free();
      throw new RecordStoreError('CORRUPT_RECORD', `${where} does not load`, { cause });
    }
    return new ScopeDocument(handle, where);
  }

  /** Our own copy of a regular document (e.g. one the sync layer updated), written as `actor`. */
  static fromDoc(doc: Automerge.Doc<unknown>, actor: string, where: string): ScopeDocument {
    return new ScopeDocument(Automerge.getBackend(doc).fork(actor), where);
  }

  /** A regular Automerge document with the same content, independent of this one. */
  toDoc(): Automerge.Doc<ScopeDocRoot> {
    return Automerge.load<ScopeDocRoot>(this.handle.saveNoCompress());
  }

  /** Merges what a saved document or incremental save holds. */
  merge(saved: Uint8Array): void {
    this.handle.loadIncremental(saved);
  }

  heads(): string[] {
    return this.handle.getHeads();
  }

  /** True if every change named in `heads` is in this document. */
  hasHeads(heads: readonly string[]): boolean {
    return heads.every((h) => this.handle.getChangeByHash(h) !== null);
  }

  /** The whole document, uncompressed (its values are ciphertext, which does not compress). */
  save(): Uint8Array {
    return this.handle.saveNoCompress();
  }

  /** The changes since `heads`, as an incremental save. */
  saveSince(heads: readonly string[]): Uint8Array {
    return this.handle.saveSince([...heads]);
  }

  /** Releases the backend's memory; the document is unusable afterwards. */
  free(): void {
    this.handle.free();
  }

  /** Segment ids, in a stable order. */
  segments(): string[] {
    return this.handle.keys(this.sId).sort();
  }

  private child(obj: string, key: string): string | undefined {
    const found = this.handle.getWithType(obj, key);
    return found && found[0] === 'map' ? found[1] : undefined;
  }

  private segment(seg: string): { r: string; h: string } | undefined {
    let ids = this.segIds.get(seg);
    if (!ids) {
      const segId = this.child(this.sId, seg);
      const r = segId && this.child(segId, 'r');
      const h = segId && this.child(segId, 'h');
      if (!r || !h) return undefined;
      ids = { r, h };
      this.segIds.set(seg, ids);
    }
    return ids;
  }

  private shard(seg: string, map: 'r' | 'h', shard: string): string | undefined {
    const ids = this.segment(seg);
    return ids && this.child(ids[map], shard);
  }

  /**
   * Every current value of `slot`: one per segment that holds it, and every concurrently written
   * value at one place (Automerge conflicts). More than one distinct version means a conflict.
   */
  currentValues(slot: Slot): FoundValue[] {
    const out: FoundValue[] = [];
    for (const seg of this.segments()) {
      const obj = this.shard(seg, 'r', shardOf(slot));
      if (!obj) continue;
      for (const [type, value] of this.handle.getAll(obj, slot)) if (type === 'bytes') out.push({ seg, value });
    }
    return out;
  }

  /** Every superseded version of `slot`: `{ seg, key: 'slot.ver', value }`. */
  historyValues(slot: Slot): (FoundValue & { key: string })[] {
    const prefix = `${slot}.`;
    const out: (FoundValue & { key: string })[] = [];
    for (const seg of this.segments()) {
      const obj = this.shard(seg, 'h', shardOf(slot));
      if (!obj) continue;
      for (const key of this.handle.keys(obj)) {
        if (!key.startsWith(prefix)) continue;
        const found = this.handle.getWithType(obj, key);
        if (found && found[0] === 'bytes') out.push({ seg, key, value: found[1] });
      }
    }
    return out;
  }

  /** Every slot with a current or superseded value in the given segments (all by default). */
  allSlots(segments: Iterable<string> = this.segments()): Set<Slot> {
    const slots = new Set<Slot>();
    for (const seg of segments) {
      const ids = this.segment(seg);
      if (!ids) continue;
      for (const map of ['r', 'h'] as const) {
        for (const shard of this.handle.keys(ids[map])) {
          const obj = this.child(ids[map], shard);
          if (!obj) continue;
          for (const key of this.handle.keys(obj)) {
            const slot = map === 'r' ? key : key.slice(0, key.indexOf('.'));
            if (isSlot(slot)) slots.add(slot);
          }
        }
      }
    }
    return slots;
  }

  /** Superseded versions per slot (keys only, nothing opened). */
  historyCounts(): Map<Slot, number> {
    const counts = new Map<Slot, number>();
    for (const seg of this.segments()) {
      const ids = this.segment(seg);
      if (!ids) continue;
      for (const shard of this.handle.keys(ids.h)) {
        const obj = this.child(ids.h, shard);
        if (!obj) continue;
        for (const key of this.handle.keys(obj)) {
          const slot = key.slice(0, key.indexOf('.'));
          if (isSlot(slot)) counts.set(slot, (counts.get(slot) ?? 0) + 1);
        }
      }
    }
    return counts;
  }

  /**
   * Slots touched between two sets of heads (after a merge or a sync), from Automerge's diff. A patch
   * that replaces a whole segment or shard marks every slot under it.
   */
  touchedSlots(before: readonly string[], after: readonly string[]): Set<Slot> {
    const slots = new Set<Slot>();
    const wholeSegments = new Set<string>();
    for (const patch of this.handle.diff([...before], [...after])) {
      const [root, seg, map, , key] = patch.path;
      if (root !== 's' || typeof seg !== 'string') continue;
      if (typeof key !== 'string') {
        wholeSegments.add(seg);
        continue;
      }
      const slot = map === 'h' ? key.slice(0, key.indexOf('.')) : key;
      if (isSlot(slot)) slots.add(slot);
    }
    if (wholeSegments.size > 0) for (const slot of this.allSlots([...wholeSegments])) slots.add(slot);
    return slots;
  }

  /** @internal Applies a {@link DocWriter}'s plan (one commit). */
  applyPlan(plan: WritePlan, seconds: number): void {
    const h = this.handle;
    try {
      if (plan.fresh) {
        h.putObjectFromHydrate(this.sId, plan.target, plan.fresh);
      }
      for (const { seg, map, shard, entries } of plan.inPlace) {
        const obj = this.shard(seg, map, shard);
        if (!obj) {
          // Only ever in our own segment (see the module comment): nobody else creates objects there.
          if (seg !== plan.target) throw new RecordStoreError('CORRUPT_RECORD', 'a record value moved while it was being written');
          h.putObjectFromHydrate(this.segment(seg)![map], shard, entries);
          continue;
        }
        for (const [k, v] of Object.entries(entries)) h.put(obj, k, v, 'bytes');
      }
      for (const { seg, map, key } of plan.deletes) {
        const obj = this.shard(seg, map, shardOf(key));
        if (obj && h.getWithType(obj, key) !== null) h.delete(obj, key);
      }
      h.commit(undefined, seconds);
    } catch (error) {
      h.rollback();
      this.segIds.clear();
      throw error;
    }
  }
}

interface PutIntent {
  map: 'r' | 'h';
  key: string;
  value: Uint8Array;
  /** For a current value that replaces one already stored: the segment holding it. */
  at?: string;
}

/** What one write does to a document. */
interface WritePlan {
  target: string;
  fresh: SegmentNode | undefined;
  inPlace: { seg: string; map: 'r' | 'h'; shard: string; entries: Record<string, Uint8Array> }[];
  deletes: { seg: string; map: 'r' | 'h'; key: string }[];
}

/**
 * Collects the writes of one operation on one scope document and applies them as one Automerge
 * change, choosing where they go by the rules in this file's header.
 */
export class DocWriter {
  private readonly puts: PutIntent[] = [];
  private readonly deletes: { seg: string; map: 'r' | 'h'; key: string }[] = [];
  private createdSegment: string | undefined;

  /** @param ownSegment the segment this device created for small writes, if any. */
  constructor(private readonly ownSegment: string | undefined) {}

  /**
   * The segment this device writes small changes into from now on, after {@link apply}: the one it
   * just created, if any (every segment it created is its own), else the one it had.
   */
  get ownSegmentAfter(): string | undefined {
    return this.createdSegment ?? this.ownSegment;
  }

  /** True if nothing was asked for. */
  get empty(): boolean {
    return this.puts.length === 0 && this.deletes.length === 0;
  }

  /** Writes the current value of `slot`; `at` is the segment holding the value it replaces. */
  putCurrent(slot: Slot, value: Uint8Array, at?: string): void {
    this.puts.push(at === undefined ? { map: 'r', key: slot, value } : { map: 'r', key: slot, value, at });
  }

  /** Keeps a superseded version under `slot.ver`. */
  putHistory(slot: Slot, ver: string, value: Uint8Array): void {
    this.puts.push({ map: 'h', key: `${slot}.${ver}`, value });
  }

  /** Removes the current value of `slot` held in `seg`. */
  deleteCurrent(seg: string, slot: Slot): void {
    this.deletes.push({ seg, map: 'r', key: slot });
  }

  /** Removes a superseded version (`slot.ver`) held in `seg`. */
  deleteHistory(seg: string, key: string): void {
    this.deletes.push({ seg, map: 'h', key });
  }

  /** Applies everything to `doc` as one change. On failure the document is left as it was. */
  apply(doc: ScopeDocument, time: Date): void {
    if (this.empty) return;
    const segments = new Set(doc.segments());
    const bulk = this.puts.length >= BULK_SEGMENT_MIN || this.ownSegment === undefined || !segments.has(this.ownSegment);
    const target = bulk ? newSegmentId() : this.ownSegment;
    const fresh: SegmentNode = { r: {}, h: {} };
    const inPlace = new Map<string, { seg: string; map: 'r' | 'h'; shard: string; entries: Record<string, Uint8Array> }>();
    const deletes = [...this.deletes];
    const addInPlace = (seg: string, map: 'r' | 'h', key: string, value: Uint8Array) => {
      const shard = shardOf(key);
      const id = `${seg}\0${map}\0${shard}`;
      let group = inPlace.get(id);
      if (!group) inPlace.set(id, (group = { seg, map, shard, entries: {} }));
      group.entries[key] = value;
    };
    for (const put of this.puts) {
      if (put.at !== undefined && !bulk) {
        addInPlace(put.at, put.map, put.key, put.value);
      } else if (bulk) {
        // A replaced value moves to the new segment: its old place is cleared.
        if (put.at !== undefined) deletes.push({ seg: put.at, map: put.map, key: put.key });
        (fresh[put.map][shardOf(put.key)] ??= {})[put.key] = put.value;
      } else {
        addInPlace(target, put.map, put.key, put.value);
      }
    }
    const plan: WritePlan = { target, fresh: bulk && this.puts.length > 0 ? fresh : undefined, inPlace: [...inPlace.values()], deletes };
    doc.applyPlan(plan, Math.floor(time.getTime() / 1000));
    if (plan.fresh) this.createdSegment = target;
  }
}
