import * as Automerge from '@automerge/automerge';
import type { Did } from '../../crypto/index.js';

/** Who caused a document to change: this device, or a remote peer through a sync session. */
export type ChangeOrigin = { readonly local: true } | { readonly local: false; readonly remote: Did };

/**
 * A document a sync session reads and updates. Sessions always read {@link current} right before
 * use and hand back the returned document at once: Automerge documents are immutable snapshots, and
 * using a stale one after another session applied changes would lose them (STACK.md).
 */
export interface SyncTarget<T = unknown> {
  /** The newest document. */
  current(): Automerge.Doc<T>;
  /** Replaces the document with `next` (a descendant of {@link current}). Must be synchronous. */
  apply(next: Automerge.Doc<T>, origin: ChangeOrigin): void;
  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: (origin: ChangeOrigin) => void): () => void;
}

/**
 * The plain {@link SyncTarget}: one Automerge document in memory, shared by every session that
 * syncs it, telling listeners about each change. The engine persists it from a listener.
 */
export class DocumentHandle<T = unknown> implements SyncTarget<T> {
  private doc: Automerge.Doc<T>;
  private readonly listeners = new Set<(origin: ChangeOrigin) => void>();

  constructor(doc: Automerge.Doc<T> = Automerge.init<T>()) {
    this.doc = doc;
  }

  current(): Automerge.Doc<T> {
    return this.doc;
  }

  apply(next: Automerge.Doc<T>, origin: ChangeOrigin): void {
    this.doc = next;
    for (const listener of [...this.listeners]) listener(origin);
  }

  /** Applies a local change (Automerge.change) and notifies sessions. */
  change(fn: Automerge.ChangeFn<T>): Automerge.Doc<T> {
    const next = Automerge.change(this.doc, fn);
    if (next !== this.doc) this.apply(next, { local: true });
    return this.doc;
  }

  subscribe(listener: (origin: ChangeOrigin) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The document's heads. */
  heads(): Automerge.Heads {
    return Automerge.getHeads(this.doc);
  }
}
