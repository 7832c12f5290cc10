import * as Automerge from '@automerge/automerge';
import type { ScopeName } from '../grants/index.js';
import type { ChangeOrigin, SyncTarget } from '../sync/index.js';
import type { RecordsPort } from './records-port.js';

/**
 * One scope document of one vault as the sync sessions see it ({@link SyncTarget}): the newest
 * document in memory, shared by every session syncing it; what sessions apply is handed to the
 * records store in order (it persists and re-indexes), and local writes are picked up with
 * {@link refresh}.
 */
export class ScopeTarget implements SyncTarget {
  private doc: Automerge.Doc<unknown>;
  private readonly listeners = new Set<(origin: ChangeOrigin) => void>();
  private persisting: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  private constructor(
    private readonly records: RecordsPort,
    readonly scope: ScopeName,
    doc: Automerge.Doc<unknown>,
  ) {
    this.doc = doc;
  }

  /** Loads the scope's document. */
  static async open(records: RecordsPort, scope: ScopeName): Promise<ScopeTarget> {
    return new ScopeTarget(records, scope, await records.scopeDoc(scope));
  }

  current(): Automerge.Doc<unknown> {
    return this.doc;
  }

  apply(next: Automerge.Doc<unknown>, origin: ChangeOrigin): void {
    this.doc = next;
    this.persisting = this.persisting.then(() => this.persist(next)).catch((error: unknown) => {
      this.failure = error instanceof Error ? error : new Error('the records store refused the document');
    });
    for (const listener of [...this.listeners]) listener(origin);
  }

  /**
   * Hands `next` to the records store. A local write stores changes before {@link refresh} gives
   * them to the sessions; a message applied in between yields a document without them, which the
   * store refuses (it never goes back). Then the stored document and `next` are merged and that is
   * persisted: both the local write and what the message brought are kept.
   */
  private async persist(next: Automerge.Doc<unknown>): Promise<void> {
    try {
      await this.records.applyScopeDoc(this.scope, next);
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code !== 'INVALID_INPUT') throw error;
      const stored = await this.records.scopeDoc(this.scope);
      if (Automerge.hasHeads(next, Automerge.getHeads(stored))) throw error;
      const merged = Automerge.merge(stored, next);
      await this.records.applyScopeDoc(this.scope, merged);
      if (this.doc === next) {
        this.doc = merged;
        for (const listener of [...this.listeners]) listener({ local: true });
      }
    }
  }

  subscribe(listener: (origin: ChangeOrigin) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Waits until everything applied is persisted; throws the first persistence failure. */
  async flush(): Promise<void> {
    await this.persisting;
    if (this.failure !== undefined) {
      const error = this.failure;
      this.failure = undefined;
      throw error;
    }
  }

  /** After a local write to the records store: adopt its document and tell the sessions. */
  async refresh(): Promise<void> {
    await this.flush();
    this.doc = await this.records.scopeDoc(this.scope);
    for (const listener of [...this.listeners]) listener({ local: true });
  }
}
