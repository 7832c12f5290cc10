import { describe, expect, it } from 'vitest';
import * as Automerge from '@automerge/automerge';
import { randomBytes, toHex } from '../../crypto/index.js';
import { BULK_SEGMENT_MIN } from './constants.js';
import { RecordStoreError } from './errors.js';
import { DocWriter, ScopeDocument, newActorId } from './scope-doc.js';
import type { Slot } from './types.js';

const slot = (): Slot => toHex(randomBytes(16)) as Slot;
const bytes = (n: number) => new Uint8Array([n, n, n]);
const at = new Date('2025-01-01T00:00:00Z');

function write(doc: ScopeDocument, own: string | undefined, fill: (w: DocWriter) => void): string | undefined {
  const w = new DocWriter(own);
  fill(w);
  w.apply(doc, at);
  return w.ownSegmentAfter;
}

describe('scope documents', () => {
  it('merge when two devices each created the document, losing nothing', () => {
    const a = ScopeDocument.create(newActorId());
    const b = ScopeDocument.create(newActorId());
    const [sa, sb] = [slot(), slot()];
    write(a, undefined, (w) => w.putCurrent(sa, bytes(1)));
    write(b, undefined, (w) => w.putCurrent(sb, bytes(2)));
    a.merge(b.save());
    b.merge(a.save());
    for (const d of [a, b]) {
      expect(d.currentValues(sa).map((f) => f.value)).toEqual([bytes(1)]);
      expect(d.currentValues(sb).map((f) => f.value)).toEqual([bytes(2)]);
    }
    expect(a.heads().sort()).toEqual(b.heads().sort());
  });

  it('puts a large write into a new segment and small ones into the device’s own segment', () => {
    const doc = ScopeDocument.create(newActorId());
    const many = Array.from({ length: BULK_SEGMENT_MIN }, () => slot());
    const own = write(doc, undefined, (w) => many.forEach((s, i) => w.putCurrent(s, bytes(i))));
    expect(doc.segments()).toEqual([own]);
    const one = slot();
    expect(write(doc, own, (w) => w.putCurrent(one, bytes(9)))).toBe(own);
    expect(doc.segments()).toHaveLength(1);
    const bulk = write(doc, own, (w) => many.forEach((s, i) => w.putCurrent(s, bytes(i + 100), own)));
    expect(doc.segments()).toHaveLength(2);
    // Replaced values moved to the new segment; their old places were cleared.
    expect(doc.currentValues(many[0]!)).toEqual([{ seg: bulk, value: bytes(100) }]);
    expect(doc.currentValues(one)).toEqual([{ seg: own, value: bytes(9) }]);
  });

  it('surfaces concurrent writes of one value as several current values', () => {
    const a = ScopeDocument.create(newActorId());
    const s = slot();
    const own = write(a, undefined, (w) => w.putCurrent(s, bytes(1)))!;
    const b = ScopeDocument.load(a.save(), newActorId(), 'copy');
    const bOwn = write(b, undefined, (w) => w.putCurrent(slot(), bytes(0)));
    write(a, own, (w) => w.putCurrent(s, bytes(2), own));
    write(b, bOwn, (w) => w.putCurrent(s, bytes(3), own)); // in place, in a's segment
    const before = a.heads();
    a.merge(b.save());
    expect(a.currentValues(s)).toEqual([
      { seg: own, value: expect.any(Uint8Array) as Uint8Array },
      { seg: own, value: expect.any(Uint8Array) as Uint8Array },
    ]);
    expect(a.currentValues(s).map((f) => f.value[0]).sort()).toEqual([2, 3]);
    expect([...a.touchedSlots(before, a.heads())]).toContain(s);
    // Writing the slot again ends the conflict.
    write(a, own, (w) => w.putCurrent(s, bytes(4), own));
    expect(a.currentValues(s).map((f) => f.value[0])).toEqual([4]);
  });

  it('finds a value written at two places (a bulk move racing an in-place edit)', () => {
    const a = ScopeDocument.create(newActorId());
    const s = slot();
    const own = write(a, undefined, (w) => w.putCurrent(s, bytes(1)))!;
    const b = ScopeDocument.load(a.save(), newActorId(), 'copy');
    write(a, own, (w) => w.putCurrent(s, bytes(2), own));
    // b has no segment of its own yet: its write goes to a new segment and clears the old place.
    const bSeg = write(b, undefined, (w) => w.putCurrent(s, bytes(3), own))!;
    a.merge(b.save());
    expect(a.currentValues(s).sort((x, y) => x.value[0]! - y.value[0]!)).toEqual([
      { seg: own, value: bytes(2) },
      { seg: bSeg, value: bytes(3) },
    ]);
  });

  it('keeps superseded versions under slot.version and counts them', () => {
    const doc = ScopeDocument.create(newActorId());
    const s = slot();
    const own = write(doc, undefined, (w) => w.putCurrent(s, bytes(1)));
    write(doc, own, (w) => {
      w.putHistory(s, 'v1', bytes(1));
      w.putCurrent(s, bytes(2), own);
    });
    expect(doc.historyValues(s)).toEqual([{ seg: own, key: `${s}.v1`, value: bytes(1) }]);
    expect(doc.historyCounts().get(s)).toBe(1);
    expect([...doc.allSlots()]).toEqual([s]);
    write(doc, own, (w) => {
      w.deleteCurrent(own!, s);
      w.deleteHistory(own!, `${s}.v1`);
    });
    expect(doc.currentValues(s)).toEqual([]);
    expect(doc.historyValues(s)).toEqual([]);
  });

  it('reloads from its save plus incremental saves', () => {
    const doc = ScopeDocument.create(newActorId());
    const s1 = slot();
    const own = write(doc, undefined, (w) => w.putCurrent(s1, bytes(1)));
    const snapshot = doc.save();
    const heads = doc.heads();
    const s2 = slot();
    write(doc, own, (w) => w.putCurrent(s2, bytes(2)));
    const inc = doc.saveSince(heads);
    const back = ScopeDocument.load(new Uint8Array([...snapshot, ...inc]), newActorId(), 'test');
    expect(back.currentValues(s2).map((f) => f.value)).toEqual([bytes(2)]);
    expect(back.hasHeads(doc.heads())).toBe(true);
  });

  it('round-trips through a regular Automerge document (for sync)', () => {
    const doc = ScopeDocument.create(newActorId());
    const s = slot();
    write(doc, undefined, (w) => w.putCurrent(s, bytes(5)));
    const regular = doc.toDoc();
    expect(Automerge.getHeads(regular).sort()).toEqual(doc.heads().sort());
    const copy = ScopeDocument.fromDoc(regular, newActorId(), 'copy');
    expect(copy.currentValues(s).map((f) => f.value)).toEqual([bytes(5)]);
  });

  it('refuses documents that are not scope documents, or newer ones', () => {
    const other = Automerge.save(Automerge.from({ hello: 'world' }));
    expect(() => ScopeDocument.load(other, newActorId(), 'x')).toThrow(RecordStoreError);
    expect(() => ScopeDocument.load(new Uint8Array([1, 2, 3, 4]), newActorId(), 'x')).toThrow(RecordStoreError);
    const newer = Automerge.save(Automerge.from({ f: 2, s: {} }));
    try {
      ScopeDocument.load(newer, newActorId(), 'x');
      expect.unreachable();
    } catch (e) {
      expect((e as RecordStoreError).code).toBe('NEWER_FORMAT');
    }
  });

  it('leaves the document unchanged when a write fails midway', () => {
    const doc = ScopeDocument.create(newActorId());
    const s = slot();
    const own = write(doc, undefined, (w) => w.putCurrent(s, bytes(1)))!;
    const heads = doc.heads();
    // A small write that replaces a value "held" in a segment that does not have the shard: refused.
    expect(() =>
      write(doc, own, (w) => {
        w.putCurrent(slot(), bytes(7));
        w.putCurrent(slot(), bytes(8), 'not-a-segment');
      }),
    ).toThrow(RecordStoreError);
    expect(doc.heads()).toEqual(heads);
    expect(doc.currentValues(s).map((f) => f.value)).toEqual([bytes(1)]);
  });
});
