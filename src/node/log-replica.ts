import { decodeCanonical, encodeCanonical, type Did, type Identity } from '../crypto/index.js';
import {
  MAX_CLOCK_SKEW_MS,
  decodeHeader,
  decodeTreeHead,
  entryIdOf,
  findForks,
  signTreeHead,
  type LogVerifier,
  type Problem,
  type ProblemCode,
  type SignedEntry,
  type SignedTreeHead,
  type VaultId,
} from '../grants/index.js';
import type { FrontierItem, LogReplica, ReceiveResult, WireEntry } from '../sync/index.js';

/** Problems that mean an entry's author broke a rule it could check itself before signing. */
const AUTHORITY_PROBLEMS: ReadonlySet<ProblemCode> = new Set<ProblemCode>(['UNAUTHORIZED', 'SCOPE_PROTECTED', 'BACKDATED_DENIAL', 'UNKNOWN_TARGET', 'BAD_TARGET']);

/** Told of entries that joined a log through replication (to persist them, and to react). */
export type EntriesAdded = (vault: VaultId, entries: readonly SignedEntry[], from: Did) => void | Promise<void>;

/**
 * Loads a log that is kept but not in memory (a shared vault the engine unloaded) and
 * {@link GrantLogReplica.track}s it; resolves false when no such log is kept here.
 */
export type LogLoader = (vault: string) => Promise<boolean>;

interface Book {
  readonly log: LogVerifier;
  /** Newest entry per author. */
  readonly frontier: Map<Did, FrontierItem>;
  /** Everyone who may replicate this log: authors, the subject, devices, delegates, grantees. */
  readonly parties: Set<Did>;
  /** Timestamps of each author's `access` receipts, ascending (for {@link ReceiptLimit}). */
  readonly receipts: Map<Did, number[]>;
  /** This node's own newest receipt per `<grant>/<scope>`: the heads it recorded. */
  readonly lastOwnReceipt: Map<string, readonly string[]>;
  /** Where the next {@link GrantLogReplica.bodiless} list starts (they take turns when there are more than fit). */
  wantCursor: number;
}

/**
 * How many `access` receipts one author may have in any window of its entries' timestamps. A
 * grantee writes one per pull; without a bound it could grow the patient's log (and every copy)
 * without end. The rule is a function of the log alone, so an honest writer checks it before
 * signing ({@link GrantLogReplica.mayWriteReceipt}) and is never refused; a receipt dated before
 * its grant or beyond the clock skew is refused too, so the count is bounded by the time a grant
 * has existed: at most `max` × (its age / `windowMs` + 1).
 */
export interface ReceiptLimit {
  readonly max: number;
  readonly windowMs: number;
}

/** @see ReceiptLimit — 12 receipts an hour per grantee (one per scope per 5 minutes, or so). */
export const DEFAULT_RECEIPT_LIMIT: ReceiptLimit = { max: 12, windowMs: 3_600_000 };

/**
 * The grant logs this node holds, as the log protocol sees them (a {@link LogReplica}). Every
 * entry received goes through src/grants' {@link LogVerifier} before it is kept; the verifier
 * refuses bad signatures, broken links and foreign vaults, and keeps equivocations and forks as
 * proof. Bodies go only to the parties entitled to them (`LogVerifier.entries({ for })`).
 */
export class GrantLogReplica implements LogReplica {
  private readonly books = new Map<string, Book>();
  /** The change of each log copy running now (see {@link exclusive}). */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly identity: Identity;
  private readonly now: () => number;
  private readonly onAdded: EntriesAdded | undefined;
  private readonly receiptLimit: ReceiptLimit;
  private readonly loader: LogLoader | undefined;
  private readonly onUse: ((vault: string) => void) | undefined;

  constructor(options: { identity: Identity; now?: () => number; onAdded?: EntriesAdded; receiptLimit?: ReceiptLimit; load?: LogLoader; onUse?: (vault: string) => void }) {
    this.identity = options.identity;
    this.now = options.now ?? Date.now;
    this.onAdded = options.onAdded;
    this.receiptLimit = options.receiptLimit ?? DEFAULT_RECEIPT_LIMIT;
    this.loader = options.load;
    this.onUse = options.onUse;
  }

  /** Starts replicating `log` (a vault this node owns, or one shared with it). */
  track(log: LogVerifier, expectedParties: readonly Did[] = []): void {
    const book: Book = { log, frontier: new Map(), parties: new Set(expectedParties), receipts: new Map(), lastOwnReceipt: new Map(), wantCursor: 0 };
    this.books.set(log.vault, book);
    this.index(book, log.entries());
  }

  /**
   * Stops holding `vault`'s log in memory (the engine keeps it in its store and loads it again
   * through the `load` option when a peer or the user needs it). Refused (false) while a change of
   * that copy is running ({@link exclusive}).
   */
  untrack(vault: string): boolean {
    if (this.tails.has(vault)) return false;
    return this.books.delete(vault);
  }

  /** Resolves once no change of `vault`'s copy is running or queued here. */
  async idle(vault: string): Promise<void> {
    for (let tail = this.tails.get(vault); tail !== undefined; tail = this.tails.get(vault)) {
      await tail;
      // The tail's own clean-up (registered before this wait) has run by the next turn.
      await Promise.resolve();
    }
  }

  /** Whether a change of `vault`'s copy is running or queued here. */
  busy(vault: string): boolean {
    return this.tails.has(vault);
  }

  /** The log of `vault`, if held in memory now. */
  log(vault: string): LogVerifier | undefined {
    return this.books.get(vault)?.log;
  }

  /** The book of `vault`: held, or loaded on demand (a kept log the engine unloaded). */
  private async bookOf(vault: string): Promise<Book | undefined> {
    let book = this.books.get(vault);
    if (!book && this.loader && (await this.loader(vault))) book = this.books.get(vault);
    if (book) this.onUse?.(vault);
    return book;
  }

  /** Records entries written locally (by a LogWriter on the tracked verifier). */
  noteWritten(vault: string, entries: readonly SignedEntry[]): void {
    const book = this.books.get(vault);
    if (book) this.index(book, entries);
  }

  /** Adds a party that may replicate before any entry names it (an invitee about to be granted). */
  allow(vault: string, party: Did): void {
    this.books.get(vault)?.parties.add(party);
  }

  private index(book: Book, entries: readonly SignedEntry[]): void {
    for (const entry of entries) {
      const id = entryIdOf(entry.header, entry.signature);
      const known = book.log.entry(id);
      if (!known) continue;
      const { header, body } = known;
      const current = book.frontier.get(header.author);
      if (!current || header.seq > current.seq) book.frontier.set(header.author, { author: header.author, seq: header.seq, id });
      book.parties.add(header.author);
      if (header.type === 'access') {
        const times = book.receipts.get(header.author) ?? book.receipts.set(header.author, []).get(header.author)!;
        insertSorted(times, header.ts);
        if (header.author === this.identity.did && body !== undefined) {
          const a = body as unknown as { grant: string; scope: string; heads: readonly string[] };
          book.lastOwnReceipt.set(`${a.grant}/${a.scope}`, a.heads);
        }
      }
      if (body === undefined) continue;
      const b = body as unknown as Record<string, unknown>;
      for (const field of ['grantee', 'delegate', 'device', 'subject'] as const) {
        if (typeof b[field] === 'string') book.parties.add(b[field] as Did);
      }
      if (Array.isArray(b.devices)) for (const d of b.devices as Did[]) book.parties.add(d);
      if (Array.isArray(b.delegates)) for (const d of b.delegates as { delegate: Did }[]) book.parties.add(d.delegate);
    }
  }

  /**
   * Whether `author` may add an `access` receipt dated `ts` for `grant` under the {@link
   * ReceiptLimit} (its earlier receipts in this copy, plus `pending` timestamps not added yet).
   */
  mayWriteReceipt(vault: string, author: Did, grant: string, ts: number, pending: readonly number[] = []): boolean {
    const book = this.books.get(vault);
    if (!book) return false;
    if (ts > this.now() + MAX_CLOCK_SKEW_MS) return false;
    const granted = book.log.entry(grant)?.header.ts;
    if (granted !== undefined && ts < granted) return false;
    const from = ts - this.receiptLimit.windowMs;
    const times = book.receipts.get(author) ?? [];
    const inWindow = upperBound(times, ts) - upperBound(times, from) + pending.filter((t) => t > from && t <= ts).length;
    return inWindow < this.receiptLimit.max;
  }

  /**
   * The earliest time from `from` on at which `author` may add a receipt under the
   * {@link ReceiptLimit} (its receipts in this copy leaving the window); undefined if the vault is
   * not loaded.
   */
  receiptAllowedAt(vault: string, author: Did, from: number): number | undefined {
    const book = this.books.get(vault);
    if (!book) return undefined;
    const times = book.receipts.get(author) ?? [];
    const upTo = upperBound(times, from);
    if (upTo < this.receiptLimit.max) return from;
    // With the receipt at upTo − max out of the window, max − 1 are left in it.
    return Math.max(from, times[upTo - this.receiptLimit.max]! + this.receiptLimit.windowMs);
  }

  /** The heads this node recorded in its newest receipt for `grant` and `scope` (to skip a receipt that would say nothing new). */
  lastReceiptHeads(vault: string, grant: string, scope: string): readonly string[] | undefined {
    return this.books.get(vault)?.lastOwnReceipt.get(`${grant}/${scope}`);
  }

  /**
   * Entries of a batch that break the {@link ReceiptLimit}: for each author, its first `access`
   * receipt over the limit and every later entry of that author in the batch (they chain on it).
   */
  private overLimit(book: Book, entries: readonly SignedEntry[]): { drop: Set<number>; authors: Set<Did> } {
    const drop = new Set<number>();
    const authors = new Set<Did>();
    const pending = new Map<Did, number[]>();
    entries.forEach((e, i) => {
      let header;
      try {
        header = decodeHeader(e.header);
      } catch {
        return; // malformed: the verifier refuses it with its own reason
      }
      if (authors.has(header.author)) {
        drop.add(i);
        return;
      }
      if (header.type !== 'access' || book.log.has(entryIdOf(e.header, e.signature))) return;
      let grant = '';
      try {
        const named = (decodeCanonical(e.body ?? new Uint8Array()) as { grant?: unknown }).grant;
        if (typeof named === 'string') grant = named;
      } catch {
        // No readable body: judged by time alone.
      }
      const mine = pending.get(header.author) ?? pending.set(header.author, []).get(header.author)!;
      if (this.mayWriteReceipt(book.log.vault, header.author, grant, header.ts, mine)) {
        mine.push(header.ts);
        return;
      }
      authors.add(header.author);
      drop.add(i);
    });
    return { drop, authors };
  }

  async mayReplicate(remote: Did, vault: string): Promise<boolean> {
    return (await this.bookOf(vault))?.parties.has(remote) ?? false;
  }

  async frontier(vault: string): Promise<readonly FrontierItem[] | undefined> {
    const book = await this.bookOf(vault);
    return book ? [...book.frontier.values()] : undefined;
  }

  async signedTreeHead(vault: string): Promise<Uint8Array | undefined> {
    const book = await this.bookOf(vault);
    if (!book || book.log.size === 0) return undefined;
    const { size, root } = book.log.treeHead();
    const sth = await signTreeHead(this.identity, { vault: book.log.vault, size, root, ts: this.now() });
    return encodeCanonical({ head: sth.head, signature: sth.signature });
  }

  /**
   * Entries this copy holds without their body, up to `limit`, taking turns: each call starts
   * where the last one stopped, so every such id is asked about within a few exchanges however
   * many there are (the other parties' grants and receipts a provider never reads stay bodiless).
   */
  async bodiless(vault: string, limit: number): Promise<readonly string[]> {
    const book = await this.bookOf(vault);
    if (!book) return [];
    const ids: string[] = [];
    for (const entry of book.log.entries()) if (entry.body === undefined) ids.push(entryIdOf(entry.header, entry.signature));
    if (ids.length <= limit) return ids;
    const start = book.wantCursor % ids.length;
    book.wantCursor = start + limit;
    return [...ids.slice(start, start + limit), ...ids.slice(0, Math.max(0, start + limit - ids.length))];
  }

  async entriesFor(remote: Did, vault: string, remoteFrontier: readonly FrontierItem[], wanted: readonly string[] = []): Promise<readonly WireEntry[]> {
    const book = await this.bookOf(vault);
    if (!book) return [];
    const have = new Map(remoteFrontier.map((f) => [f.author, f]));
    // Bodies the remote holds the header of and asks for: sent when it is entitled to them now
    // (it became a guardian, an owner device, a grantee named later…).
    const asked = new Set(wanted);
    const out: WireEntry[] = [];
    for (const entry of book.log.entries({ for: remote, now: this.now() })) {
      const header = decodeHeader(entry.header);
      const theirs = have.get(header.author);
      // Newer than what they hold of that author; or, at their newest seq, a different entry
      // (an equivocation they should see as proof).
      const lacks = theirs === undefined || header.seq > theirs.seq || (header.seq === theirs.seq && entryIdOf(entry.header, entry.signature) !== theirs.id);
      // A delegation's body becomes due to a party later than its header (when a guardian it
      // empowers grants to that party, docs/log-format.md "Withholding bodies"): delegations are
      // few, so their bodies go again on every exchange; the receiver keeps only what it lacked.
      const chain = entry.body !== undefined && (header.type === 'delegate' || header.type === 'undelegate');
      const due = entry.body !== undefined && asked.has(entryIdOf(entry.header, entry.signature));
      if (lacks || chain || due) out.push(entry.body === undefined ? { header: entry.header, signature: entry.signature } : { header: entry.header, signature: entry.signature, body: entry.body });
    }
    return out;
  }

  /**
   * Runs `run` when no other change of `vault`'s log copy is running here. LogVerifier.add awaits
   * signature checks between looking an entry up and keeping it: two adds in flight with the same
   * entries (concurrent exchanges with one peer bring the same batch twice) would each keep it, and
   * the copy would show its author signing "different entries" at one seq — an equivocation that
   * takes the author's authority away. Every add to a copy goes through here (receive, and the
   * engine's writes).
   */
  exclusive<T>(vault: string, run: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(vault) ?? Promise.resolve();
    const next = previous.then(run, run);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(vault, tail);
    void tail.then(() => {
      if (this.tails.get(vault) === tail) this.tails.delete(vault);
    });
    return next;
  }

  receive(remote: Did, vault: string, entries: readonly WireEntry[]): Promise<ReceiveResult> {
    return this.exclusive(vault, () => this.receiveNow(remote, vault, entries));
  }

  private async receiveNow(remote: Did, vault: string, entries: readonly WireEntry[]): Promise<ReceiveResult> {
    const book = await this.bookOf(vault);
    if (!book) return { ok: false, code: 'INVALID_ENTRY', detail: 'this node holds no log of that vault' };
    const all: SignedEntry[] = entries.map((e) => (e.body === undefined ? { header: e.header, signature: e.signature } : { header: e.header, signature: e.signature, body: e.body }));
    // Receipts over the limit are never stored (nor what their author chained on them).
    const limited = this.overLimit(book, all);
    const signed = limited.drop.size === 0 ? all : all.filter((_, i) => !limited.drop.has(i));
    // Entries held before without their body: a body arriving now is kept (and persisted) once.
    const bodyless = new Set(signed.map((e) => entryIdOf(e.header, e.signature)).filter((id) => book.log.has(id) && book.log.entry(id)?.body === undefined));
    const result = await book.log.add(signed);
    // Entries that verified are kept even when others of the batch are refused: each stands on its
    // own signature and links. The refused ones are never stored.
    const added = new Set<string>(result.added);
    const kept = signed.filter((e) => {
      const id = entryIdOf(e.header, e.signature);
      return added.has(id) || (e.body !== undefined && bodyless.has(id) && book.log.entry(id)?.body !== undefined);
    });
    this.index(book, kept);
    if (kept.length > 0) await this.onAdded?.(book.log.vault, kept, remote);
    const refused = result.rejected[0];
    if (limited.authors.has(remote)) {
      // Refused, kept nowhere, but no ban: a receipt dated ahead of this clock may come from a
      // clock running fast rather than from a flood, and the limit already bounds what a
      // flooding grantee can add. Only the author is refused: a peer forwarding someone else's
      // receipts is not.
      return { ok: false, code: 'LIMIT_REACHED', detail: `RECEIPT_LIMIT: more than ${this.receiptLimit.max} access receipts of ${remote} within ${this.receiptLimit.windowMs} ms, or one dated before its grant or in the future` };
    }
    if (refused) return { ok: false, code: 'INVALID_ENTRY', detail: `${refused.code}: ${refused.message}`, ...(refused.entry ? { entryId: refused.entry } : {}) };
    const forged = this.signedWithoutAuthority(book.log, remote, result.added);
    if (forged) return { ok: false, code: 'INVALID_ENTRY', detail: `${forged.code}: ${forged.message}`, entryId: forged.entry ?? '' };
    return { ok: true, added: result.added.length };
  }

  /**
   * The first problem of an entry `remote` itself signed that broke an authority rule in its own
   * view (UNAUTHORIZED, SCOPE_PROTECTED, BACKDATED_DENIAL, UNKNOWN_TARGET, BAD_TARGET): an honest
   * writer checks exactly these before signing (src/grants' LogWriter), so such an entry is proof
   * of misbehaviour and the exchange is refused with its code. The verifier has kept it, flagged
   * and without effect (docs/log-format.md "Verification"); it stays as proof, because entries
   * written later may cite it. An entry of someone else that a peer merely forwards is not held
   * against that peer.
   */
  private signedWithoutAuthority(log: LogVerifier, remote: Did, added: readonly string[]): Problem | undefined {
    const suspects = new Set(added.filter((id) => log.statusOf(id) === 'unauthorized' && log.entry(id)?.header.author === remote));
    if (suspects.size === 0) return undefined;
    return log.problems(this.now()).find((p) => p.entry !== null && suspects.has(p.entry) && AUTHORITY_PROBLEMS.has(p.code));
  }

  async receiveTreeHead(_remote: Did, vault: string, bytes: Uint8Array): Promise<ReceiveResult> {
    const book = await this.bookOf(vault);
    if (!book) return { ok: true, added: 0 };
    let sth: SignedTreeHead;
    try {
      const value = decodeCanonical(bytes) as { head?: unknown; signature?: unknown };
      if (!(value.head instanceof Uint8Array) || !(value.signature instanceof Uint8Array)) throw new Error('shape');
      sth = { head: value.head, signature: value.signature };
      decodeTreeHead(sth);
    } catch {
      return { ok: false, code: 'INVALID_ENTRY', detail: 'malformed signed tree head' };
    }
    const before = book.log.signedTreeHeads().length;
    await book.log.addTreeHeads([sth]);
    if (book.log.signedTreeHeads().length === before) {
      // Refused by the verifier (bad signature, other vault) unless it was a duplicate.
      const known = book.log.signedTreeHeads().some((s) => equal(s.head, sth.head) && equal(s.signature, sth.signature));
      if (!known) return { ok: false, code: 'INVALID_ENTRY', detail: 'signed tree head does not verify' };
    }
    const forks = findForks(book.log.signedTreeHeads().map((signed) => ({ head: decodeTreeHead(signed), signed })));
    const signer = decodeTreeHead(sth).signer;
    const fork = forks.find((f) => f.signer === signer);
    if (fork) return { ok: false, code: 'FORK', detail: `${signer} signed two tree heads of size ${fork.size} with different roots (kept as proof)` };
    return { ok: true, added: 0 };
  }

  /** Forks held as proof in `vault`'s log. */
  forks(vault: string): ReturnType<typeof findForks> {
    const book = this.books.get(vault);
    if (!book) return [];
    return findForks(book.log.signedTreeHeads().map((signed) => ({ head: decodeTreeHead(signed), signed })));
  }
}

/** How many of the ascending `list` are ≤ `value`. */
function upperBound(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(list: number[], value: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > value) i--;
  list.splice(i, 0, value);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
