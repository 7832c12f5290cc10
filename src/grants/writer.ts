import type { Identity } from '../crypto/index.js';
import { encodeBody } from './bodies.js';
import { MAX_DEPS } from './constants.js';
import { signEntry, sortIds } from './entry.js';
import { GrantsError } from './errors.js';
import { LogVerifier } from './log-verifier.js';
import type { BodyOf, EntryId, EntryType, GenesisBody, SignedEntry, VaultId } from './types.js';
import { Invalid } from './validate.js';

/** An entry just written: its id, wire form and the type and author, for the caller's records. */
export type WrittenEntry = SignedEntry & { readonly id: EntryId; readonly body: Uint8Array };

function bodyBytes<T extends EntryType>(type: T, body: BodyOf[T]): Uint8Array {
  try {
    return encodeBody(type, body);
  } catch (error) {
    if (error instanceof Invalid) throw new GrantsError('INVALID_INPUT', `${type} body: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Writes entries into one party's copy of a log, through the same code that verifies them: it
 * refuses (NOT_AUTHORIZED) what its author may not write in this copy's view, links each entry to
 * the author's previous one and to every other current head, and adds the signed entry to the copy.
 */
export class LogWriter {
  constructor(readonly log: LogVerifier) {}

  /**
   * The append in flight on each log copy. An append reads the author's head and then awaits its
   * signature: two in flight at once would both sign seq N+1, which every verifier reads as
   * equivocation and answers by taking the device's authority away. Appends to one copy therefore
   * run one after another, whichever writer over that copy started them.
   */
  static readonly #tails = new WeakMap<LogVerifier, Promise<unknown>>();

  /** Creates a vault: signs its genesis as `identity` and returns a writer over the new log. */
  static async createVault(identity: Identity, body: GenesisBody, ts: number): Promise<{ writer: LogWriter; vault: VaultId; genesis: WrittenEntry }> {
    const bytes = bodyBytes('genesis', body);
    const genesis = await signEntry(identity, { vault: null, author: identity.did, seq: 0, prev: null, deps: [], ts, type: 'genesis' }, bytes);
    const vault = genesis.id as string as VaultId;
    const log = new LogVerifier({ vault });
    const result = await log.add([genesis]);
    if (result.added.length !== 1) {
      throw new GrantsError('INVALID_INPUT', `genesis refused: ${result.rejected.map((p) => `${p.code} ${p.message}`).join('; ')}`);
    }
    return { writer: new LogWriter(log), vault, genesis };
  }

  /**
   * Signs and appends an entry as `identity`. `ts` is the author's clock; it is moved just past the
   * latest parent if the clock is behind (timestamps must grow along every link).
   */
  append<T extends EntryType>(identity: Identity, type: T, body: BodyOf[T], options: { ts: number }): Promise<WrittenEntry> {
    const previous = LogWriter.#tails.get(this.log) ?? Promise.resolve();
    const next = previous.then(
      () => this.#append(identity, type, body, options),
      () => this.#append(identity, type, body, options),
    );
    // The chain must not carry one append's refusal into the next: only its settling matters.
    LogWriter.#tails.set(this.log, next.catch(() => undefined));
    return next;
  }

  async #append<T extends EntryType>(identity: Identity, type: T, body: BodyOf[T], options: { ts: number }): Promise<WrittenEntry> {
    if (type === 'genesis') throw new GrantsError('INVALID_INPUT', 'a log has one genesis; use LogWriter.createVault');
    const did = identity.did;
    const head = this.log.authorHead(did);
    const others = this.log.headEntries().filter((h) => h.author !== did && h.id !== head?.id);
    // Cite the newest heads if there are more than one entry may carry; the rest are cited later.
    const cited = others.sort((a, b) => b.ts - a.ts).slice(0, MAX_DEPS);
    const parentTs = Math.max(head?.ts ?? -1, ...cited.map((c) => c.ts));
    const ts = Math.max(options.ts, parentTs + 1);
    if (!this.log.mayWrite(did, type, { body, ts })) {
      throw new GrantsError('NOT_AUTHORIZED', `${did} may not write ${type} in this log now`);
    }
    const entry = await signEntry(
      identity,
      { vault: this.log.vault, author: did, seq: head === null ? 0 : head.seq + 1, prev: head?.id ?? null, deps: sortIds(cited.map((c) => c.id)), ts, type },
      bodyBytes(type, body),
    );
    const result = await this.log.add([entry]);
    if (result.added.length !== 1 || result.added[0] !== entry.id) {
      throw new GrantsError('INVALID_INPUT', `entry refused: ${result.rejected.map((p) => `${p.code} ${p.message}`).join('; ') || 'not added'}`);
    }
    return entry;
  }
}
