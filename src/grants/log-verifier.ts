import {
  CryptoError,
  equalBytes,
  publicKeyFromDid,
  sha256,
  toBase64Url,
  verifyBatch,
  type Did,
  type Digest,
  type SignedMessage,
} from '../crypto/index.js';
import { PUBLIC_BODY_TYPES, decodeBody } from './bodies.js';
import { MAX_BODY_BYTES, MAX_CLOCK_SKEW_MS, MAX_MEMBERS } from './constants.js';
import { HeaderProblem, decodeHeader, entryDigestOf, entryIdOf, entrySigningMessage } from './entry.js';
import { GrantsError, type Problem, type ProblemCode } from './errors.js';
import { MerkleTree } from './merkle.js';
import type { ScopeName } from './scopes.js';
import { findForks, verifyTreeHeads, type SignedTreeHead, type TreeHead } from './tree-head.js';
import type {
  AccessBody,
  DelegateBody,
  DeviceAddBody,
  DeviceRemoveBody,
  EmergencyDenyBody,
  EmergencyRequestBody,
  EntryBody,
  EntryHeader,
  EntryId,
  EntryType,
  GenesisBody,
  GrantAction,
  GrantBody,
  HandoverBody,
  ProtectBody,
  SignedEntry,
  UndelegateBody,
  VaultId,
} from './types.js';
import { Invalid } from './validate.js';
import type { EmergencyAccess, Entitlement, EntryStatus, Equivocation, LiveDelegation, LiveDevice, LiveGrant, Protection, Verdict } from './verdict.js';

/** A role an identity can hold in a vault. */
type Role = 'subject' | 'device' | 'guardian' | 'emergency';

/** One entry admitted to the log (signed, of this vault, linked to parents that are in the log). */
interface Node {
  readonly id: EntryId;
  readonly h: EntryHeader;
  readonly headerBytes: Uint8Array;
  readonly signature: Uint8Array;
  bodyBytes: Uint8Array | undefined;
  body: EntryBody | undefined;
  /** Position in this copy's log order (= Merkle leaf index). */
  readonly index: number;
  readonly parents: readonly Node[];
  /**
   * Causal index: for each member dimension, the highest sequence number of that member in this
   * entry's causal past (itself included); -1 or absent = none. A member's entries form one chain,
   * so "x is in the past of e" is `e.vv[dim(x.author)] >= x.seq`, O(1).
   */
  vv: Int32Array;
  status: EntryStatus;
  /** The role the author acted under (for grants: whose expiry bounds the grant). */
  via: Enabler | null;
  /** Authority judged by the entry's causal past only (docs/log-format.md, "Authority"). */
  authPast: boolean;
  /** Authority that also survives every removal the entry had not seen. */
  liveAuth: boolean;
}

/** A role given to `did` by `node` (the genesis, a device.add or a delegate entry). */
interface Enabler {
  readonly node: Node;
  readonly did: Did;
  readonly role: Role;
  readonly expires: number | null;
  /** Emergency contacts: the scopes they may ask for, and how long a request waits. */
  readonly scopes: readonly ScopeName[];
  readonly wait: number | null;
}

/** A removal of a role: device.remove of a device, or undelegate of one delegation. */
interface Disabler {
  readonly node: Node;
  readonly did: Did;
  /** For undelegate: the entry that made the delegation. */
  readonly delegation: EntryId | null;
}

/** An entry that passed every check that needs nothing but itself, waiting for its parents. */
interface Checked {
  readonly id: EntryId;
  /** The id's 32 bytes (the Merkle leaf data). */
  readonly digest: Uint8Array;
  readonly h: EntryHeader;
  readonly headerBytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly bodyBytes: Uint8Array | undefined;
  readonly body: EntryBody | undefined;
  readonly parentIds: readonly EntryId[];
  readonly arrival: number;
  missing: number;
}

interface AuthorChain {
  readonly bySeq: Map<number, Node[]>;
  /** Lowest sequence number with two entries (Infinity if none): authority ends there. */
  forkSeq: number;
  readonly nodes: Node[];
  /** The entry with the highest seq (the author's head). */
  top: Node | null;
}

/** What one {@link LogVerifier.add} call did with its input. */
export interface AddResult {
  /** Entries that joined the log in this call (in log order; may include earlier pending ones). */
  readonly added: readonly EntryId[];
  /** Input entries the log already held (or held pending). */
  readonly known: readonly EntryId[];
  /** Input entries waiting for a parent this copy does not hold yet. */
  readonly pending: readonly EntryId[];
  /** Input entries refused, each with its problem. */
  readonly rejected: readonly Problem[];
}

/** Options of {@link LogVerifier.add}. */
export interface AddOptions {
  /**
   * How a batch is ordered into the log: `canonical` (each entry after its parents, ties by
   * timestamp then id: the same order for the same set, whatever the input order) or `given`
   * (input order, as an export file lists its log order). @default 'canonical'
   */
  readonly order?: 'canonical' | 'given';
  /** Report input entries the log already holds as DUPLICATE_ENTRY (for files). @default false */
  readonly reportDuplicates?: boolean;
}

const OWNER_ROLES: readonly Role[] = ['subject', 'device'];
const ACTING_ROLES: readonly Role[] = ['subject', 'device', 'guardian'];
const MEMBERSHIP_TYPES: ReadonlySet<EntryType> = new Set(['genesis', 'device.add', 'device.remove', 'delegate', 'undelegate', 'handover']);
/** Entries that take authority away are judged by their causal past alone (docs/log-format.md). */
const REDUCING_TYPES: ReadonlySet<EntryType> = new Set(['device.remove', 'undelegate', 'revoke', 'erase', 'protect', 'emergency.deny']);
/** Bodies every holder of the log must have: they say who may act. */
const REQUIRED_BODY_TYPES: ReadonlySet<EntryType> = PUBLIC_BODY_TYPES;

/** Problem codes that are re-decided whenever an entry's authority is. */
const AUTHORITY_CODES: ReadonlySet<ProblemCode> = new Set(['UNAUTHORIZED', 'UNKNOWN_TARGET', 'BAD_TARGET', 'TOO_MANY_MEMBERS', 'SCOPE_PROTECTED', 'BACKDATED_DENIAL']);

/** The roles that may write each type (besides the grantee and self rules). */
function rolesFor(type: EntryType): readonly Role[] {
  if (type === 'device.add' || type === 'device.remove') return OWNER_ROLES;
  if (type === 'emergency.request') return ['emergency'];
  return ACTING_ROLES;
}

function overlaps(a: readonly string[], b: readonly string[]): boolean {
  return a.some((x) => b.includes(x));
}
/** Signatures in flight per batch; WebCrypto runs them on the thread pool while we parse the next. */
const SIGNATURE_CHUNK = 64;
const MAX_CHUNKS_IN_FLIGHT = 4;

function yieldToEventLoop(): Promise<void> {
  // Lets WebCrypto's completions and the microtasks that issue the next checks run between chunks.
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** Array.isArray without narrowing a typed array to any[]. */
function isArray(value: unknown): boolean {
  return Array.isArray(value);
}

function problem(code: ProblemCode, entry: string | null, message: string, related?: readonly string[]): Problem {
  return related === undefined || related.length === 0 ? { code, entry, message } : { code, entry, message, related: [...related].sort() };
}

function compareProblems(a: Problem, b: Problem): number {
  const ea = a.entry ?? '';
  const eb = b.entry ?? '';
  if (ea !== eb) return ea < eb ? -1 : 1;
  if (a.code !== b.code) return a.code < b.code ? -1 : 1;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}

/** Min-heap of checked entries (log-order candidates). */
class Heap {
  private readonly items: Checked[] = [];
  constructor(private readonly before: (a: Checked, b: Checked) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  push(item: Checked): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }
  pop(): Checked | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** A membership entry whose body this copy holds (those are re-decided in the membership passes). */
function isIndexedMembership(n: { h: EntryHeader; body: EntryBody | undefined }): boolean {
  return MEMBERSHIP_TYPES.has(n.h.type) && n.body !== undefined;
}

const canonicalBefore = (a: Checked, b: Checked): boolean => (a.h.ts !== b.h.ts ? a.h.ts < b.h.ts : a.id < b.id);
const arrivalBefore = (a: Checked, b: Checked): boolean => a.arrival < b.arrival;

/**
 * The scopes an entry passes on to someone else: a grant's, or an emergency delegation's (a
 * trusted contact reads them once the wait ends). The dependent-only rule applies to both.
 */
function sharedScopes(type: EntryType, body: EntryBody): readonly ScopeName[] | null {
  if (type === 'grant') return (body as GrantBody).scopes;
  if (type === 'delegate' && (body as DelegateBody).role === 'emergency') return (body as DelegateBody).scopes;
  return null;
}

/**
 * The incremental verifier of one vault's grant log. Pure: no I/O, no clock (`now` is a
 * parameter); signature checks are asynchronous (WebCrypto) but decide nothing else.
 *
 * Adding k entries to a verified log of n costs O(k) for everything per entry (parsing,
 * signatures, hash links, causal index, Merkle tree, authority), plus, only when an entry takes a
 * role away (device.remove, undelegate), a re-check of the entries of the members it touches; an
 * equivocation triggers one re-evaluation of the authority of the whole log (no signatures).
 */
export class LogVerifier {
  /** The vault this copy verifies; entries of any other vault are WRONG_VAULT. */
  readonly vault: VaultId;

  private readonly nodes = new Map<EntryId, Node>();
  private readonly order: Node[] = [];
  private readonly tree = new MerkleTree();
  private readonly heads = new Set<Node>();
  private readonly pendingById = new Map<EntryId, Checked>();
  private readonly waiting = new Map<EntryId, EntryId[]>();
  private readonly rejected = new Map<EntryId, Problem>();
  private readonly bodyRejected = new Set<EntryId>();
  /** Problems of kept entries, by entry (authority, equivocation, missing bodies, duplicates). */
  private readonly flagged = new Map<EntryId, Problem[]>();
  private readonly authors = new Map<Did, AuthorChain>();
  private readonly publicKeys = new Map<string, Uint8Array | null>();
  private arrivals = 0;

  /** Member dimensions of the causal index. */
  private readonly dims = new Map<Did, number>();
  private readonly enablers = new Map<Did, Enabler[]>();
  private readonly disablers = new Map<Did, Disabler[]>();
  private readonly membership: Node[] = [];
  private readonly handovers: Node[] = [];
  private readonly protections: Node[] = [];
  private readonly requests: Node[] = [];
  private readonly withheldDelegations: Node[] = [];
  private readonly grantsByGrantee = new Map<Did, Node[]>();
  /** Entries whose body names another entry (revoke, rekey, erase, access, consent → grant; undelegate → delegation). */
  private readonly refsByTarget = new Map<EntryId, Node[]>();
  private readonly equivocations = new Map<string, Equivocation>();
  private readonly treeHeads: { head: TreeHead; signed: SignedTreeHead }[] = [];
  private readonly treeHeadProblems: Problem[] = [];
  private readonly orderedHeadKeys = new Set<string>();
  private needsFullRecompute = false;

  constructor(options: { vault: VaultId }) {
    if (typeof options?.vault !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(options.vault)) {
      throw new GrantsError('INVALID_INPUT', '"vault" expected a 43-character base64url vault id');
    }
    this.vault = options.vault;
  }

  /** Number of entries in the log. */
  get size(): number {
    return this.order.length;
  }

  /** Whether the log holds the entry `id`. */
  has(id: EntryId | string): boolean {
    return this.nodes.has(id as EntryId);
  }

  // ---------------------------------------------------------------------------------------------
  // Adding entries
  // ---------------------------------------------------------------------------------------------

  /**
   * Verifies and adds entries (any order; duplicates of known entries are ignored unless
   * `reportDuplicates`). Entries whose parents are missing wait until they arrive. An entry known
   * without its body is completed when it arrives again with a body that matches.
   */
  add(entries: readonly SignedEntry[], options: AddOptions = {}): Promise<AddResult> {
    // One add at a time: an add awaits its signature checks, and two in flight would each find the
    // same new entries unknown and admit them twice (read by every peer as equivocation).
    const next = this.#addTail.then(
      () => this.#add(entries, options),
      () => this.#add(entries, options),
    );
    this.#addTail = next.catch(() => undefined);
    return next;
  }

  #addTail: Promise<unknown> = Promise.resolve();

  async #add(entries: readonly SignedEntry[], options: AddOptions): Promise<AddResult> {
    if (!isArray(entries)) throw new GrantsError('INVALID_INPUT', '"entries" expected an array');
    const known: EntryId[] = [];
    const rejectedNow: Problem[] = [];
    const accepted: Checked[] = [];
    const upgrades: Checked[] = [];
    const seenNow = new Set<EntryId>();

    // Parse in chunks and check each chunk's signatures on WebCrypto's thread pool while the main
    // thread parses the next chunk (STACK.md: verification is the cost; batching hides it).
    const inFlight: Promise<void>[] = [];
    for (let start = 0; start < entries.length; start += SIGNATURE_CHUNK) {
      const chunk: { checked: Checked; later: { problem: Problem; bodyOnly: boolean } | null }[] = [];
      const items: SignedMessage[] = [];
      for (const entry of entries.slice(start, start + SIGNATURE_CHUNK)) {
        const parsed = this.parse(entry, seenNow, known, rejectedNow, upgrades, options.reportDuplicates === true);
        if (parsed === null) continue;
        const publicKey = this.publicKey(parsed.checked.h.author);
        if (publicKey === null) {
          this.reject(rejectedNow, problem('BAD_HEADER', parsed.checked.id, 'author is not a usable Ed25519 key'));
          continue;
        }
        chunk.push(parsed);
        items.push({ publicKey, message: entrySigningMessage(parsed.checked.headerBytes), signature: parsed.checked.signature });
      }
      if (items.length === 0) continue;
      inFlight.push(
        verifyBatch(items).then((results) => {
          results.forEach((ok, i) => {
            const { checked, later } = chunk[i]!;
            if (!ok) this.reject(rejectedNow, problem('BAD_SIGNATURE', checked.id, `signature by ${checked.h.author} does not verify`));
            else if (later !== null) this.reject(rejectedNow, later.problem, later.bodyOnly);
            else accepted.push(checked);
          });
        }),
      );
      await yieldToEventLoop();
      if (inFlight.length >= MAX_CHUNKS_IN_FLIGHT) await inFlight.shift();
    }
    await Promise.all(inFlight);

    for (const u of upgrades) this.upgradeBody(u);
    if (options.order === 'given') this.checkGivenOrder(accepted);
    const added = this.admitAll(accepted, options.order === 'given' ? arrivalBefore : canonicalBefore);
    if (this.needsFullRecompute) this.recomputeAll();
    const pending = accepted.filter((c) => this.pendingById.has(c.id)).map((c) => c.id);
    return { added, known, pending, rejected: rejectedNow };
  }

  private publicKey(did: Did): Uint8Array | null {
    let key = this.publicKeys.get(did);
    if (key === undefined) {
      try {
        key = publicKeyFromDid(did);
      } catch {
        key = null;
      }
      this.publicKeys.set(did, key);
    }
    return key;
  }

  private reject(list: Problem[], p: Problem, bodyOnly = false): void {
    list.push(p);
    if (p.entry === null) return;
    this.rejected.set(p.entry as EntryId, p);
    if (bodyOnly) this.bodyRejected.add(p.entry as EntryId);
  }

  private addFlag(id: EntryId, p: Problem): void {
    const list = this.flagged.get(id) ?? [];
    if (!list.some((q) => q.code === p.code && q.message === p.message)) list.push(p);
    this.flagged.set(id, list);
  }

  /**
   * Every check an entry allows on its own, in a fixed order so each damage has one code: header
   * (size, canonical, schema), then (after the batch's signature check) vault, then body.
   * Returns null when the entry is refused or already known.
   */
  private parse(
    entry: SignedEntry,
    seenNow: Set<EntryId>,
    known: EntryId[],
    rejectedNow: Problem[],
    upgrades: Checked[],
    reportDuplicates: boolean,
  ): { checked: Checked; later: { problem: Problem; bodyOnly: boolean } | null } | null {
    if (typeof entry !== 'object' || entry === null || !(entry.header instanceof Uint8Array) || !(entry.signature instanceof Uint8Array)) {
      throw new GrantsError('INVALID_INPUT', 'an entry must have header and signature bytes');
    }
    if (entry.body !== undefined && !(entry.body instanceof Uint8Array)) throw new GrantsError('INVALID_INPUT', 'an entry body must be bytes');
    const digest = entryDigestOf(entry.header, entry.signature);
    const id = toBase64Url(digest) as EntryId;
    const node = this.nodes.get(id);
    if (!seenNow.has(id) && this.bodyRejected.has(id)) {
      // Refused only for its body last time: the body is not covered by the id, so a copy with a
      // good body may still come (a damaged copy must not poison the entry).
      this.bodyRejected.delete(id);
      this.rejected.delete(id);
    }
    if (seenNow.has(id) || node !== undefined || this.pendingById.has(id) || this.rejected.has(id)) {
      known.push(id);
      if (reportDuplicates) this.addFlag(id, problem('DUPLICATE_ENTRY', id, 'the entry appears more than once'));
      if (node !== undefined && node.bodyBytes === undefined && entry.body !== undefined) {
        const upgrade = this.checkBody(id, node.h, entry.body);
        if (upgrade.problem === null) upgrades.push({ ...this.toChecked(id, digest, node.h, entry, upgrade.body), missing: 0 });
        else rejectedNow.push(upgrade.problem);
      }
      seenNow.add(id);
      return null;
    }
    seenNow.add(id);
    if (entry.signature.length !== 64) {
      this.reject(rejectedNow, problem('BAD_SIGNATURE', id, 'signature is not 64 bytes'));
      return null;
    }
    let h: EntryHeader;
    try {
      h = decodeHeader(entry.header);
    } catch (error) {
      if (error instanceof HeaderProblem) {
        this.reject(rejectedNow, problem(error.code, id, error.message));
        return null;
      }
      throw error;
    }
    let later: { problem: Problem; bodyOnly: boolean } | null = null;
    if (h.type === 'genesis' ? (id as string) !== this.vault : h.vault !== this.vault) {
      later = { problem: problem('WRONG_VAULT', id, h.type === 'genesis' ? 'a genesis of another vault' : `entry of vault ${h.vault ?? '?'}, not of this vault`), bodyOnly: false };
    }
    let body: EntryBody | undefined;
    if (entry.body !== undefined) {
      const checkedBody = this.checkBody(id, h, entry.body);
      if (checkedBody.problem !== null) later ??= { problem: checkedBody.problem, bodyOnly: true };
      body = checkedBody.body;
    }
    return { checked: this.toChecked(id, digest, h, entry, body), later };
  }

  private toChecked(id: EntryId, digest: Uint8Array, h: EntryHeader, entry: SignedEntry, body: EntryBody | undefined): Checked {
    const parentIds = h.prev === null ? [...h.deps] : [h.prev, ...h.deps];
    return {
      id,
      digest,
      h,
      headerBytes: entry.header,
      signature: entry.signature,
      bodyBytes: body === undefined ? undefined : entry.body,
      body,
      parentIds,
      arrival: this.arrivals++,
      missing: 0,
    };
  }

  private checkBody(id: EntryId, h: EntryHeader, bytes: Uint8Array): { body: EntryBody | undefined; problem: Problem | null } {
    if (bytes.length > MAX_BODY_BYTES) return { body: undefined, problem: problem('ENTRY_TOO_LARGE', id, `body is larger than ${MAX_BODY_BYTES} bytes`) };
    if (!equalBytes(sha256(bytes), h.bodyHash)) return { body: undefined, problem: problem('BODY_HASH_MISMATCH', id, 'body does not match the bodyHash its header commits to') };
    try {
      return { body: decodeBody(h.type, bytes), problem: null };
    } catch (error) {
      if (error instanceof CryptoError) return { body: undefined, problem: problem('NON_CANONICAL', id, `body is not canonical DAG-CBOR (${error.message})`) };
      if (error instanceof Invalid) return { body: undefined, problem: problem('BAD_BODY', id, `${h.type} body: ${error.message}`) };
      throw error;
    }
  }

  /** A log order lists every entry after its parents: one listed before a parent is BAD_ORDER. */
  private checkGivenOrder(accepted: readonly Checked[]): void {
    const position = new Map(accepted.map((c) => [c.id, c.arrival]));
    for (const c of accepted) {
      const later = c.parentIds.filter((p) => (position.get(p) ?? -1) > c.arrival);
      if (later.length > 0) this.addFlag(c.id, problem('BAD_ORDER', c.id, 'the entry is listed before its parent', later));
    }
  }

  /** Queues checked entries and admits every one whose parents are all in the log, in order. */
  private admitAll(accepted: readonly Checked[], before: (a: Checked, b: Checked) => boolean): EntryId[] {
    const ready = new Heap(before);
    for (const c of accepted) {
      this.pendingById.set(c.id, c);
      c.missing = 0;
      for (const parent of c.parentIds) {
        if (this.nodes.has(parent)) continue;
        c.missing++;
        const list = this.waiting.get(parent);
        if (list) list.push(c.id);
        else this.waiting.set(parent, [c.id]);
      }
      if (c.missing === 0) ready.push(c);
    }
    const added: EntryId[] = [];
    for (let next = ready.pop(); next !== undefined; next = ready.pop()) {
      this.pendingById.delete(next.id);
      if (!this.admit(next)) continue;
      added.push(next.id);
      const children = this.waiting.get(next.id);
      if (!children) continue;
      this.waiting.delete(next.id);
      for (const childId of children) {
        const child = this.pendingById.get(childId);
        if (child !== undefined && --child.missing === 0) ready.push(child);
      }
    }
    return added;
  }

  /** Graph checks against the parents, then the entry joins the log. False if refused. */
  private admit(c: Checked): boolean {
    const parents = c.parentIds.map((id) => this.nodes.get(id)!);
    const h = c.h;
    if (h.prev !== null) {
      const prev = parents[0]!;
      if (prev.h.author !== h.author) {
        this.rejected.set(c.id, problem('BAD_PREV', c.id, 'prev is an entry of another author', [prev.id]));
        return false;
      }
      if (prev.h.seq !== h.seq - 1) {
        this.rejected.set(c.id, problem('SEQ_GAP', c.id, `seq ${h.seq} follows the author's seq ${prev.h.seq}`, [prev.id]));
        return false;
      }
    }
    const ownDep = parents.slice(h.prev === null ? 0 : 1).find((p) => p.h.author === h.author);
    if (ownDep !== undefined) {
      this.rejected.set(c.id, problem('BAD_DEPS', c.id, "deps names the author's own entry (that is what prev is for)", [ownDep.id]));
      return false;
    }
    const late = parents.find((p) => p.h.ts >= h.ts);
    if (late !== undefined) {
      this.rejected.set(c.id, problem('TS_NOT_AFTER_PARENT', c.id, 'timestamp is not after a parent\u2019s (back-dated?)', [late.id]));
      return false;
    }
    if (h.type === 'genesis' && c.body !== undefined) {
      const g = c.body as GenesisBody;
      if (!g.devices.includes(h.author) && g.subject !== h.author && !g.delegates.some((d) => d.delegate === h.author && d.role === 'guardian')) {
        this.rejected.set(c.id, problem('BAD_GENESIS', c.id, 'the genesis author is not its subject, one of its devices or a guardian it names'));
        return false;
      }
    }

    const node: Node = {
      id: c.id,
      h,
      headerBytes: c.headerBytes,
      signature: c.signature,
      bodyBytes: c.bodyBytes,
      body: c.body,
      index: this.order.length,
      parents,
      vv: this.causalIndex(h, parents),
      status: 'undetermined',
      via: null,
      authPast: false,
      liveAuth: false,
    };
    this.nodes.set(node.id, node);
    this.order.push(node);
    this.tree.append(c.digest);
    for (const p of parents) this.heads.delete(p);
    this.heads.add(node);

    let chain = this.authors.get(h.author);
    if (!chain) {
      chain = { bySeq: new Map(), forkSeq: Infinity, nodes: [], top: null };
      this.authors.set(h.author, chain);
    }
    chain.nodes.push(node);
    if (chain.top === null || h.seq > chain.top.h.seq) chain.top = node;
    const atSeq = chain.bySeq.get(h.seq);
    if (atSeq === undefined) {
      chain.bySeq.set(h.seq, [node]);
    } else {
      atSeq.push(node);
      this.recordEquivocation(h.author, h.seq, atSeq);
      if (h.seq < chain.forkSeq) {
        chain.forkSeq = h.seq;
        this.needsFullRecompute = true;
      }
    }

    if (node.body === undefined && REQUIRED_BODY_TYPES.has(h.type)) {
      this.addFlag(node.id, problem('BODY_MISSING', node.id, `a ${h.type} body is needed by every holder of the log, and it is absent`));
    }
    this.index(node);
    this.evaluateNew(node);
    const referrers = this.refsByTarget.get(node.id);
    if (referrers) for (const r of referrers) if (!MEMBERSHIP_TYPES.has(r.h.type)) this.evaluate(r);
    return true;
  }

  private recordEquivocation(author: Did, seq: number, atSeq: readonly Node[]): void {
    const ids = atSeq.map((n) => n.id).sort();
    this.equivocations.set(`${author} ${seq}`, { author, seq, entries: ids });
    for (const n of atSeq) {
      this.flagged.set(
        n.id,
        (this.flagged.get(n.id) ?? []).filter((p) => p.code !== 'EQUIVOCATION'),
      );
      this.addFlag(n.id, problem('EQUIVOCATION', n.id, `${author} signed ${ids.length} different entries at seq ${seq}`, ids.filter((i) => i !== n.id)));
    }
  }

  private causalIndex(h: EntryHeader, parents: readonly Node[]): Int32Array {
    const vv = new Int32Array(this.dims.size).fill(-1);
    for (const p of parents) {
      const pv = p.vv;
      for (let d = 0; d < pv.length; d++) if (pv[d]! > vv[d]!) vv[d] = pv[d]!;
    }
    const own = this.dims.get(h.author);
    if (own !== undefined && h.seq > vv[own]!) vv[own] = h.seq;
    return vv;
  }

  /** Gives `did` a causal-index dimension; if it already wrote entries, fills the dimension in. */
  private addDim(did: Did): boolean {
    if (this.dims.has(did)) return true;
    if (this.dims.size >= MAX_MEMBERS) return false;
    const d = this.dims.size;
    this.dims.set(did, d);
    if (this.authors.has(did)) {
      // O(n) once per member that wrote entries before being named (rare: the genesis author, or
      // a party that becomes a member later).
      for (const node of this.order) {
        let value = node.h.author === did ? node.h.seq : -1;
        for (const p of node.parents) value = Math.max(value, p.vv[d] ?? -1);
        if (node.vv.length <= d) {
          const grown = new Int32Array(this.dims.size).fill(-1);
          grown.set(node.vv);
          node.vv = grown;
        }
        node.vv[d] = value;
      }
    }
    return true;
  }

  /** Is `x` in the causal past of `e` (x ≠ e)? */
  private inPast(x: Node, e: Node): boolean {
    if (x === e) return false;
    const d = this.dims.get(x.h.author);
    if (d === undefined) return false;
    return (e.vv[d] ?? -1) >= x.h.seq;
  }

  private index(node: Node): void {
    const body = node.body;
    if (body === undefined) {
      if (node.h.type === 'delegate' || node.h.type === 'undelegate') this.withheldDelegations.push(node);
      return;
    }
    switch (node.h.type) {
      case 'genesis': {
        const g = body as GenesisBody;
        this.addEnabler({ node, did: g.subject, role: 'subject', expires: null, scopes: [], wait: null });
        for (const did of g.devices) this.addEnabler({ node, did, role: 'device', expires: null, scopes: [], wait: null });
        for (const d of g.delegates) this.addEnabler({ node, did: d.delegate, role: d.role, expires: d.expires, scopes: [], wait: null });
        break;
      }
      case 'device.add':
        this.addEnabler({ node, did: (body as DeviceAddBody).device, role: 'device', expires: null, scopes: [], wait: null });
        break;
      case 'delegate': {
        const d = body as DelegateBody;
        this.addEnabler({ node, did: d.delegate, role: d.role, expires: d.expires, scopes: d.scopes, wait: d.wait });
        break;
      }
      case 'handover': {
        const hb = body as HandoverBody;
        this.addEnabler({ node, did: hb.subject, role: 'subject', expires: null, scopes: [], wait: null });
        for (const did of hb.devices) this.addEnabler({ node, did, role: 'device', expires: null, scopes: [], wait: null });
        this.handovers.push(node);
        break;
      }
      case 'protect':
        this.protections.push(node);
        break;
      case 'emergency.request':
        this.requests.push(node);
        this.addRef((body as EmergencyRequestBody).delegation, node);
        break;
      case 'emergency.deny':
        this.addRef((body as EmergencyDenyBody).request, node);
        break;
      case 'device.remove':
        this.addDisabler({ node, did: (body as DeviceRemoveBody).device, delegation: null });
        break;
      case 'undelegate': {
        const u = body as UndelegateBody;
        this.addDisabler({ node, did: u.delegate, delegation: u.delegation });
        this.addRef(u.delegation, node);
        break;
      }
      case 'grant': {
        const grantee = (body as GrantBody).grantee;
        const list = this.grantsByGrantee.get(grantee);
        if (list) list.push(node);
        else this.grantsByGrantee.set(grantee, [node]);
        break;
      }
      case 'consent': {
        const grant = (body as { grant: EntryId | null }).grant;
        if (grant !== null) this.addRef(grant, node);
        break;
      }
      default:
        this.addRef((body as { grant: EntryId }).grant, node);
    }
    if (MEMBERSHIP_TYPES.has(node.h.type)) this.membership.push(node);
  }

  private addEnabler(e: Enabler): void {
    const list = this.enablers.get(e.did);
    if (list) list.push(e);
    else this.enablers.set(e.did, [e]);
  }

  private addDisabler(d: Disabler): void {
    const list = this.disablers.get(d.did);
    if (list) list.push(d);
    else this.disablers.set(d.did, [d]);
  }

  private addRef(target: EntryId, node: Node): void {
    const list = this.refsByTarget.get(target);
    if (list) list.push(node);
    else this.refsByTarget.set(target, [node]);
  }

  private upgradeBody(u: Checked): void {
    const node = this.nodes.get(u.id);
    if (node === undefined || node.body !== undefined) return;
    node.body = u.body;
    node.bodyBytes = u.bodyBytes;
    const flags = this.flagged.get(node.id);
    if (flags) this.flagged.set(node.id, flags.filter((p) => p.code !== 'BODY_MISSING'));
    const withheld = this.withheldDelegations.indexOf(node);
    if (withheld >= 0) this.withheldDelegations.splice(withheld, 1);
    this.index(node);
    // Rare (a party that becomes entitled to an older body): re-derive authority from scratch.
    this.needsFullRecompute = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Authority (docs/log-format.md, "Authority")
  // ---------------------------------------------------------------------------------------------

  /** The named dids of a membership entry (they get causal-index dimensions once it has authority). */
  private namedMembers(node: Node): Did[] {
    const body = node.body;
    if (body === undefined) return [];
    switch (node.h.type) {
      case 'genesis': {
        const g = body as GenesisBody;
        return [g.subject, ...g.devices, ...g.delegates.map((d) => d.delegate)];
      }
      case 'device.add':
        return [(body as DeviceAddBody).device];
      case 'delegate':
        return [(body as DelegateBody).delegate];
      case 'handover': {
        const hb = body as HandoverBody;
        return [hb.subject, ...hb.devices];
      }
      default:
        return [];
    }
  }

  /**
   * The best role `e`'s author held for it among `roles`, or null. `past`: judged only by what is
   * in e's causal past. `live`: also every removal anywhere in the log that had not seen e counts.
   */
  private roleFor(e: Node, roles: readonly Role[], mode: 'past' | 'live', only?: (x: Enabler) => boolean): Enabler | null {
    const list = this.enablers.get(e.h.author);
    if (list === undefined) return null;
    let best: Enabler | null = null;
    for (const x of list) {
      if (!roles.includes(x.role)) continue;
      if (only !== undefined && !only(x)) continue;
      if (!this.inPast(x.node, e)) continue;
      if (!(mode === 'past' ? x.node.authPast : x.node.liveAuth)) continue;
      if (x.expires !== null && e.h.ts >= x.expires) continue; // a delegation holds for ts < expires, as at now
      if (this.disabledFor(x, e, mode)) continue;
      if (best === null || this.better(x, best)) best = x;
    }
    return best;
  }

  private better(x: Enabler, than: Enabler): boolean {
    const ownerX = x.role === 'subject' || x.role === 'device';
    const ownerThan = than.role === 'subject' || than.role === 'device';
    if (ownerX !== ownerThan) return ownerX;
    if ((x.expires === null) !== (than.expires === null)) return x.expires === null;
    if (x.expires !== null && than.expires !== null && x.expires !== than.expires) return x.expires > than.expires;
    return x.node.index < than.node.index;
  }

  /**
   * The removals that apply to enabler `x`: device.remove of a device, undelegate of that
   * delegation, and a handover for the subject it replaces and for every guardian. A removal in x's
   * own causal past came before this (re-)enablement and does not end it.
   */
  private removalsOf(x: Enabler): Node[] {
    const out: Node[] = [];
    const applies = (y: Node): boolean => y !== x.node && y.authPast && !this.inPast(y, x.node);
    if (x.role === 'subject' || x.role === 'guardian') {
      for (const h of this.handovers) {
        if (!applies(h)) continue;
        if (x.role === 'subject' && (h.body as HandoverBody).subject === x.did) continue;
        out.push(h);
      }
    }
    if (x.role === 'subject') return out;
    for (const y of this.disablers.get(x.did) ?? []) {
      if (!applies(y.node)) continue;
      if (x.role === 'device' ? y.node.h.type === 'device.remove' : y.node.h.type === 'undelegate' && y.delegation === x.node.id) out.push(y.node);
    }
    return out;
  }

  private disabledFor(x: Enabler, e: Node, mode: 'past' | 'live'): boolean {
    for (const y of this.removalsOf(x)) {
      if (y === e) continue;
      if (mode === 'past' ? this.inPast(y, e) : !this.inPast(e, y)) return true;
    }
    return false;
  }

  /**
   * A grant by a guardian naming a dependent-only scope: 'past' if the protection was in its view
   * (a broken rule), 'concurrent' if it had not seen it (no effect), else null.
   */
  private protectionConflict(e: Node, scopes: readonly ScopeName[]): 'past' | 'concurrent' | null {
    let found: 'past' | 'concurrent' | null = null;
    for (const p of this.protections) {
      if (p.status !== 'valid' || p === e) continue;
      const pb = p.body as ProtectBody;
      if (e.h.ts < pb.from || !overlaps(pb.scopes, scopes)) continue;
      if (this.inPast(p, e)) return 'past';
      if (!this.inPast(e, p)) found = 'concurrent';
    }
    return found;
  }

  /** Scopes guardians may neither read nor share at `now`. */
  private protectedAt(now: number): Set<ScopeName> {
    const out = new Set<ScopeName>();
    for (const p of this.protections) {
      if (p.status !== 'valid') continue;
      const pb = p.body as ProtectBody;
      if (pb.from <= now) for (const scope of pb.scopes) out.add(scope);
    }
    return out;
  }

  /** Whether a withheld delegation body in e's past might be what gives its author authority. */
  private mayDependOnWithheld(e: Node): boolean {
    return this.withheldDelegations.some((w) => this.inPast(w, e));
  }

  private setStatus(node: Node, status: EntryStatus, via: Enabler | null, flag: Problem | null): void {
    node.status = status;
    node.via = via;
    const flags = this.flagged.get(node.id);
    const kept = flags?.filter((p) => !AUTHORITY_CODES.has(p.code));
    if (kept !== undefined) this.flagged.set(node.id, kept);
    if (flag !== null) this.addFlag(node.id, flag);
  }

  private unauthorized(node: Node, message: string): void {
    if (this.mayDependOnWithheld(node)) this.setStatus(node, 'undetermined', null, null);
    else this.setStatus(node, 'unauthorized', null, problem('UNAUTHORIZED', node.id, message));
  }

  /** Decides the status of one entry from the current state. */
  private evaluate(node: Node): void {
    const h = node.h;
    if (h.type === 'genesis') {
      node.authPast = node.liveAuth = node.body !== undefined;
      this.setStatus(node, node.body === undefined ? 'undetermined' : 'valid', null, null);
      return;
    }
    if (h.seq >= this.authors.get(h.author)!.forkSeq) {
      node.authPast = node.liveAuth = false;
      this.setStatus(node, 'equivocated', null, null);
      return;
    }
    if (h.type === 'access') {
      this.evaluateByGrantee(node);
      return;
    }
    // An emergency request must be made under the delegation it names.
    const only =
      h.type === 'emergency.request' && node.body !== undefined ? (x: Enabler) => x.node.id === (node.body as EmergencyRequestBody).delegation : undefined;
    const past = this.roleFor(node, rolesFor(h.type), 'past', only);
    if (REDUCING_TYPES.has(h.type)) {
      if (past !== null && h.type === 'emergency.deny' && node.body !== undefined && !this.denialSawRequest(node)) {
        node.authPast = node.liveAuth = false;
        this.setStatus(node, 'unauthorized', past, problem('BACKDATED_DENIAL', node.id, 'a denial must come after the request it denies (have it in its past)', [(node.body as EmergencyDenyBody).request]));
      } else if (past !== null) {
        node.authPast = node.liveAuth = true;
        this.setStatus(node, 'valid', past, null);
      } else if (h.type === 'revoke') {
        this.evaluateByGrantee(node);
      } else if (h.type === 'undelegate' && node.body !== undefined && (node.body as UndelegateBody).delegate === h.author) {
        node.authPast = node.liveAuth = true; // a delegate may always step down
        this.setStatus(node, 'valid', null, null);
      } else {
        node.authPast = node.liveAuth = false;
        // A withheld undelegate may be a delegate stepping down: this copy cannot tell.
        if (h.type === 'undelegate' && node.body === undefined) this.setStatus(node, 'undetermined', null, null);
        else this.unauthorized(node, `${h.author} had no authority to write ${h.type}`);
      }
      return;
    }
    if (past === null) {
      node.authPast = node.liveAuth = false;
      this.unauthorized(node, `${h.author} had no authority to write ${h.type} (not a device, or a guardian under a live delegation, in its own view)`);
      return;
    }
    const live = this.roleFor(node, rolesFor(h.type), 'live', only);
    // A guardian may not share a scope that is dependent-only from the grant's time on.
    const via = live ?? past;
    const shares = node.body === undefined ? null : sharedScopes(h.type, node.body);
    if (shares !== null && via.role === 'guardian') {
      const conflict = this.protectionConflict(node, shares);
      if (conflict === 'past') {
        node.authPast = node.liveAuth = false;
        this.setStatus(node, 'unauthorized', null, problem('SCOPE_PROTECTED', node.id, `a guardian shared a scope that is dependent-only (${h.type})`));
        return;
      }
      if (conflict === 'concurrent') {
        node.authPast = true;
        node.liveAuth = false;
        this.setStatus(node, 'superseded', past, null);
        return;
      }
    }
    node.authPast = true;
    node.liveAuth = live !== null;
    this.setStatus(node, live !== null ? 'valid' : 'superseded', via, null);
  }

  /** Whether a denial has the request it names in its causal past (so its time is after it). */
  private denialSawRequest(deny: Node): boolean {
    const request = this.nodes.get((deny.body as EmergencyDenyBody).request);
    return request !== undefined && this.inPast(request, deny);
  }

  private evaluateByGrantee(node: Node): void {
    node.authPast = node.liveAuth = false;
    if (node.body === undefined) {
      this.setStatus(node, 'undetermined', null, null);
      return;
    }
    const target = this.nodes.get((node.body as AccessBody).grant);
    if (target === undefined) {
      this.setStatus(node, 'unauthorized', null, problem('UNKNOWN_TARGET', node.id, `${node.h.type} names a grant that is not in the log`));
      return;
    }
    if (target.h.type !== 'grant') {
      this.setStatus(node, 'unauthorized', null, problem('BAD_TARGET', node.id, `${node.h.type} names a ${target.h.type} entry, not a grant`, [target.id]));
      return;
    }
    if (target.body === undefined) {
      this.setStatus(node, 'undetermined', null, null);
      return;
    }
    if ((target.body as GrantBody).grantee !== node.h.author) {
      this.setStatus(node, 'unauthorized', null, problem('UNAUTHORIZED', node.id, `${node.h.author} wrote ${node.h.type} for a grant to someone else`, [target.id]));
      return;
    }
    node.authPast = node.liveAuth = true;
    this.setStatus(node, 'valid', null, null);
  }

  /** A new entry: decide it, and if it takes a role away, re-decide what that touches. */
  private evaluateNew(node: Node): void {
    if (this.needsFullRecompute) return; // the whole log is re-decided at the end of this add()
    this.evaluate(node);
    // A protection touches what guardians shared before it arrived.
    if (node.h.type === 'protect' && node.status === 'valid') this.recomputeLive(this.didsWithRole(['guardian']));
    if (!MEMBERSHIP_TYPES.has(node.h.type)) return;
    if (node.authPast && !this.namedMembers(node).every((did) => this.addDim(did))) {
      this.tooManyMembers(node);
      return;
    }
    // A withheld removal's target is unknown to this copy (withholding never hides one that concerns it).
    if (REDUCING_TYPES.has(node.h.type) && node.authPast && node.body !== undefined) {
      const target = node.h.type === 'device.remove' ? (node.body as DeviceRemoveBody).device : (node.body as UndelegateBody).delegate;
      this.recomputeLive(new Set([target]));
    }
    // A handover ends the subject it replaces and every guardian.
    if (node.h.type === 'handover' && node.authPast) this.recomputeLive(this.didsWithRole(['subject', 'guardian']));
  }

  private didsWithRole(roles: readonly Role[]): Set<Did> {
    const out = new Set<Did>();
    for (const [did, list] of this.enablers) if (list.some((x) => roles.includes(x.role))) out.add(did);
    return out;
  }

  private tooManyMembers(node: Node): void {
    node.authPast = node.liveAuth = false;
    this.setStatus(node, 'unauthorized', null, problem('TOO_MANY_MEMBERS', node.id, `the log names more than ${MAX_MEMBERS} members`));
  }

  /**
   * Re-decides `liveAuth` of every membership entry (few), then every other entry of each member
   * whose roles changed (the removal's target, and members whose enabling entry changed).
   */
  private recomputeLive(affected: Set<Did>): void {
    for (const m of this.membership) {
      if (REDUCING_TYPES.has(m.h.type) || m.h.type === 'genesis') continue;
      const before = m.liveAuth;
      const status = m.status;
      this.evaluate(m);
      if (m.liveAuth !== before || m.status !== status) for (const did of this.namedMembers(m)) affected.add(did);
    }
    for (const did of affected) {
      const chain = this.authors.get(did);
      if (chain) for (const n of chain.nodes) if (!isIndexedMembership(n)) this.evaluate(n);
    }
  }

  /** Re-derives all authority from the entries (after an equivocation or a late body). No signatures. */
  private recomputeAll(): void {
    this.needsFullRecompute = false;
    for (const m of this.membership) m.authPast = m.liveAuth = false;
    // Past-only authority depends only on the strict past: one pass in log order.
    for (const m of this.membership) {
      this.evaluate(m);
      if (m.authPast && !this.namedMembers(m).every((did) => this.addDim(did))) this.tooManyMembers(m);
    }
    // Live authority of enabling entries depends on earlier ones and on (fixed) removals: one more pass.
    for (const m of this.membership) if (!REDUCING_TYPES.has(m.h.type) && m.status !== 'unauthorized') this.evaluate(m);
    for (const n of this.order) if (!isIndexedMembership(n)) this.evaluate(n);
  }

  // ---------------------------------------------------------------------------------------------
  // Tree heads
  // ---------------------------------------------------------------------------------------------

  /** Signed tree head of this copy's log order: size and root. */
  treeHead(): { size: number; root: Digest } {
    return { size: this.tree.size, root: this.tree.root() };
  }

  /** Root of the first `size` entries of this copy's log order. */
  rootAt(size: number): Digest {
    return this.tree.root(size);
  }

  /** Inclusion proof of entry `id` in the tree of the first `size` entries (default: all). */
  inclusionProof(id: EntryId | string, size = this.tree.size): { index: number; size: number; proof: Uint8Array[] } {
    const node = this.nodes.get(id as EntryId);
    if (node === undefined) throw new GrantsError('UNKNOWN_ENTRY', 'the entry is not in this log');
    return { index: node.index, size, proof: this.tree.inclusionProof(node.index, size) };
  }

  /** Consistency proof from the tree of `size1` entries to that of `size2` (default: all). */
  consistencyProof(size1: number, size2 = this.tree.size): Uint8Array[] {
    return this.tree.consistencyProof(size1, size2);
  }

  /**
   * Verifies signed tree heads and keeps them for fork detection. With `overThisOrder`, each head
   * claims to cover this copy's log order (as an export file's heads do): its root must equal
   * this log's root at its size (TREE_HEAD_MISMATCH otherwise).
   */
  async addTreeHeads(heads: readonly SignedTreeHead[], options: { overThisOrder?: boolean } = {}): Promise<void> {
    const results = await verifyTreeHeads(heads);
    results.forEach((result, i) => {
      if (result instanceof GrantsError) {
        this.treeHeadProblems.push(problem('BAD_TREE_HEAD', null, `tree head #${i}: ${result.message}`));
        return;
      }
      if (result.vault !== this.vault) {
        this.treeHeadProblems.push(problem('BAD_TREE_HEAD', null, `tree head #${i} is of another vault`));
        return;
      }
      const key = `${toBase64Url(heads[i]!.head)}.${toBase64Url(heads[i]!.signature)}`;
      if (this.orderedHeadKeys.has(key)) return;
      this.orderedHeadKeys.add(key);
      this.treeHeads.push({ head: result, signed: heads[i]! });
      if (options.overThisOrder === true) {
        if (result.size > this.tree.size) {
          this.treeHeadProblems.push(problem('TREE_HEAD_MISMATCH', null, `tree head by ${result.signer} covers ${result.size} entries; the log holds ${this.tree.size}`));
        } else if (!equalBytes(this.tree.root(result.size), result.root)) {
          this.treeHeadProblems.push(problem('TREE_HEAD_MISMATCH', null, `tree head by ${result.signer} at size ${result.size} does not match the log's root`));
        }
      }
    });
  }

  /** The verified tree heads this copy holds. */
  signedTreeHeads(): SignedTreeHead[] {
    return this.treeHeads.map((t) => t.signed);
  }

  // ---------------------------------------------------------------------------------------------
  // Live state at `now`
  // ---------------------------------------------------------------------------------------------

  private checkNow(now: number): void {
    if (!Number.isSafeInteger(now) || now < 0) throw new GrantsError('INVALID_INPUT', '"now" expected milliseconds since the epoch');
  }

  /** Whether enabler `x` still gives its role at `now` (removals anywhere count). */
  private enablerLive(x: Enabler, now: number): boolean {
    if (!x.node.liveAuth || x.node.h.ts > now + MAX_CLOCK_SKEW_MS) return false;
    if (x.expires !== null && now >= x.expires) return false;
    const chain = this.authors.get(x.did);
    if (chain !== undefined && chain.forkSeq !== Infinity) return false;
    return this.removalsOf(x).length === 0;
  }

  private liveRole(did: Did, roles: readonly Role[], now: number): Enabler | null {
    let best: Enabler | null = null;
    for (const x of this.enablers.get(did) ?? []) {
      if (roles.includes(x.role) && this.enablerLive(x, now) && (best === null || this.better(x, best))) best = x;
    }
    return best;
  }

  /** A guardian delegation a handover with `guardians: 'read'` turned read-only (and nothing else ended). */
  private readerRole(did: Did, now: number): Enabler | null {
    for (const x of this.enablers.get(did) ?? []) {
      if (x.role !== 'guardian' || !x.node.liveAuth || x.node.h.ts > now + MAX_CLOCK_SKEW_MS) continue;
      if (x.expires !== null && now >= x.expires) continue;
      const chain = this.authors.get(did);
      if (chain !== undefined && chain.forkSeq !== Infinity) continue;
      const removals = this.removalsOf(x);
      if (removals.length > 0 && removals.every((y) => y.h.type === 'handover' && (y.body as HandoverBody).guardians === 'read')) return x;
    }
    return null;
  }

  /** Every emergency request with its state at `now` (docs/log-format.md, "Emergency access"). */
  private emergencies(now: number): EmergencyAccess[] {
    const out: EmergencyAccess[] = [];
    for (const r of this.requests) {
      if (r.status !== 'valid' || r.body === undefined || r.via === null) continue;
      const x = r.via;
      const opensAt = r.h.ts + (x.wait ?? 0);
      const denial = (this.refsByTarget.get(r.id) ?? [])
        .filter((d) => d.h.type === 'emergency.deny' && d.status === 'valid' && d.h.ts < opensAt)
        .sort((a, b) => a.h.ts - b.h.ts || (a.id < b.id ? -1 : 1))[0];
      let state: EmergencyAccess['state'];
      if (denial !== undefined) state = 'denied';
      else if (!this.enablerLive(x, now)) state = 'ended';
      else state = now >= opensAt ? 'open' : 'waiting';
      out.push({ request: r.id, contact: r.h.author, delegation: x.node.id, scopes: x.scopes, opensAt, expires: x.expires, state, deniedBy: denial?.id ?? null });
    }
    return out.sort((a, b) => (a.request < b.request ? -1 : 1));
  }

  private grantRevoked(grant: Node): boolean {
    return (this.refsByTarget.get(grant.id) ?? []).some((r) => r.h.type === 'revoke' && r.status === 'valid');
  }

  private liveGrant(node: Node, now: number): LiveGrant | null {
    if (node.status !== 'valid' || node.body === undefined) return null;
    if (node.h.ts > now + MAX_CLOCK_SKEW_MS) return null;
    const body = node.body as GrantBody;
    // A guardian's grant ends with the guardian's delegation, unless a handover that had seen it
    // adopted it: then the new owner keeps it until it expires on its own or is revoked.
    const adopted = node.via?.role === 'guardian' && this.handovers.some((h) => h.authPast && this.inPast(node, h));
    const viaExpires = adopted ? null : (node.via?.expires ?? null);
    const expires = body.expires === null ? viaExpires : viaExpires === null ? body.expires : Math.min(body.expires, viaExpires);
    if (expires !== null && now >= expires) return null;
    if (this.grantRevoked(node)) return null;
    // What a guardian shared stops covering a scope once it is dependent-only.
    let scopes = body.scopes;
    if (node.via?.role === 'guardian') {
      const shielded = this.protectedAt(now);
      scopes = scopes.filter((scope) => !shielded.has(scope));
      if (scopes.length === 0) return null;
    }
    return {
      entry: node.id,
      grantee: body.grantee,
      scopes,
      actions: body.actions,
      purpose: body.purpose,
      expires,
      author: node.h.author,
      as: node.via?.role === 'guardian' ? 'guardian' : 'owner',
    };
  }

  /**
   * The sync gate: may `did` have `scope` (for `action`) of this vault at `now`? Owners (the
   * subject and live devices) and live guardians may; anyone else needs a live grant naming the
   * scope and action.
   */
  entitlement(did: Did | string, scope: ScopeName, now: number, action: GrantAction = 'read'): Entitlement {
    this.checkNow(now);
    const owner = this.liveRole(did as Did, OWNER_ROLES, now);
    if (owner !== null) return { entitled: true, as: 'owner', entry: null, expires: null };
    // Guardians (and guardians kept read-only by a handover) never get a dependent-only scope.
    const shielded = this.protectedAt(now).has(scope);
    const guardian = shielded ? null : this.liveRole(did as Did, ['guardian'], now);
    if (guardian !== null) return { entitled: true, as: 'guardian', entry: guardian.node.id, expires: guardian.expires };
    const reader = shielded || action !== 'read' ? null : this.readerRole(did as Did, now);
    if (reader !== null) return { entitled: true, as: 'reader', entry: reader.node.id, expires: reader.expires };
    for (const e of this.emergencies(now)) {
      if (e.contact !== did || e.state !== 'open' || action !== 'read' || !e.scopes.includes(scope)) continue;
      // A contact a guardian named never reaches a dependent-only scope, whenever it was named.
      if (shielded && this.nodes.get(e.delegation)?.via?.role === 'guardian') continue;
      return { entitled: true, as: 'emergency', entry: e.request, expires: e.expires };
    }
    let best: LiveGrant | null = null;
    for (const g of this.grantsByGrantee.get(did as Did) ?? []) {
      const live = this.liveGrant(g, now);
      if (live === null || !live.scopes.includes(scope) || !live.actions.includes(action)) continue;
      if (best === null || (best.expires !== null && (live.expires === null || live.expires > best.expires))) best = live;
    }
    if (best !== null) return { entitled: true, as: 'grant', entry: best.entry, expires: best.expires };
    return { entitled: false, as: null, entry: null, expires: null };
  }

  /**
   * The entries whose bodies `did` may receive at `now` (the withholding rule of docs/log-format.md):
   * owners and live guardians get every body; anyone else gets the bodies that say who may act
   * (genesis, device.add, device.remove), its own entries, its grants and every entry naming them,
   * delegations naming it, and the delegation chain that gave the authors of those their authority.
   * Everyone gets every header.
   */
  bodiesFor(did: Did | string, now: number): Set<EntryId> {
    this.checkNow(now);
    const out = new Set<EntryId>();
    const member = this.liveRole(did as Did, ACTING_ROLES, now) !== null;
    for (const n of this.order) {
      if (n.body === undefined) continue;
      if (member || REQUIRED_BODY_TYPES.has(n.h.type) || n.h.author === did) out.add(n.id);
    }
    if (member) return out;
    // Entries naming the party's own entries (a denial of its emergency request).
    for (const n of this.authors.get(did as Did)?.nodes ?? []) for (const r of this.refsByTarget.get(n.id) ?? []) if (r.body !== undefined) out.add(r.id);
    const chainOf = (node: Node): void => {
      // The delegation (and its undelegations) that gave `node`'s author authority, recursively.
      for (let via = node.via; via !== null && via.node.h.type === 'delegate' && !out.has(via.node.id); via = via.node.via) {
        out.add(via.node.id);
        for (const r of this.refsByTarget.get(via.node.id) ?? []) if (r.body !== undefined) out.add(r.id);
      }
    };
    for (const g of this.grantsByGrantee.get(did as Did) ?? []) {
      out.add(g.id);
      chainOf(g);
      for (const r of this.refsByTarget.get(g.id) ?? []) {
        if (r.body === undefined) continue;
        out.add(r.id);
        chainOf(r);
      }
    }
    for (const x of this.enablers.get(did as Did) ?? []) {
      if (x.node.h.type !== 'delegate') continue;
      out.add(x.node.id);
      chainOf(x.node);
      for (const r of this.refsByTarget.get(x.node.id) ?? []) if (r.body !== undefined) out.add(r.id);
    }
    return out;
  }

  /** The log in this copy's order; with `for`, bodies `for` is not entitled to are left out. */
  entries(options: { for?: Did | string; now?: number } = {}): SignedEntry[] {
    let allowed: Set<EntryId> | null = null;
    if (options.for !== undefined) {
      if (options.now === undefined) throw new GrantsError('INVALID_INPUT', '"now" is needed to decide what a party may receive');
      allowed = this.bodiesFor(options.for, options.now);
    }
    return this.order.map((n) =>
      n.bodyBytes === undefined || (allowed !== null && !allowed.has(n.id))
        ? { header: n.headerBytes, signature: n.signature }
        : { header: n.headerBytes, signature: n.signature, body: n.bodyBytes },
    );
  }

  /** The latest entry of `did` in this log (for a writer), or null. */
  authorHead(did: Did | string): { id: EntryId; seq: number; ts: number } | null {
    const top = this.authors.get(did as Did)?.top;
    if (top === undefined || top === null) return null;
    return { id: top.id, seq: top.h.seq, ts: top.h.ts };
  }

  /** Current heads (entries no other entry names), with their authors and timestamps. */
  headEntries(): { id: EntryId; author: Did; ts: number }[] {
    return [...this.heads].map((n) => ({ id: n.id, author: n.h.author, ts: n.h.ts })).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Status of entry `id`, or undefined if the log does not hold it. */
  statusOf(id: EntryId | string): EntryStatus | undefined {
    return this.nodes.get(id as EntryId)?.status;
  }

  /** The decoded header and body (if held) of entry `id`. */
  entry(id: EntryId | string): { header: EntryHeader; body: EntryBody | undefined; status: EntryStatus } | undefined {
    const n = this.nodes.get(id as EntryId);
    return n === undefined ? undefined : { header: n.h, body: n.body, status: n.status };
  }

  /**
   * Whether `did` may write an entry of `type` now, in this copy's view (what an honest writer
   * checks before signing; the verifier applies the same rule to every entry).
   */
  mayWrite(did: Did | string, type: EntryType, options: { body?: EntryBody; ts: number }): boolean {
    const body = options.body;
    if (type === 'genesis') return false;
    const chain = this.authors.get(did as Did);
    if (chain !== undefined && chain.forkSeq !== Infinity) return false;
    if (type === 'access' || type === 'revoke') {
      const target = body === undefined ? undefined : this.nodes.get((body as AccessBody).grant);
      if (target?.body !== undefined && (target.body as GrantBody).grantee === did) return true;
      if (type === 'access') return false;
    }
    if (type === 'undelegate' && body !== undefined && (body as UndelegateBody).delegate === did) return true;
    // Evaluate as if the entry came after every current head (its causal past = the whole log).
    const probe = this.probe(did as Did, options.ts);
    const only = type === 'emergency.request' && body !== undefined ? (x: Enabler) => x.node.id === (body as EmergencyRequestBody).delegation : undefined;
    const via = this.roleFor(probe, rolesFor(type), 'past', only);
    if (via === null) return false;
    const shares = body === undefined ? null : sharedScopes(type, body);
    if (shares !== null && via.role === 'guardian' && this.protectionConflict(probe, shares) === 'past') return false;
    if (type === 'emergency.deny' && body !== undefined) {
      const request = this.nodes.get((body as EmergencyDenyBody).request);
      if (request === undefined || !this.inPast(request, probe)) return false;
    }
    return true;
  }

  private probe(did: Did, ts: number): Node {
    const vv = new Int32Array(this.dims.size).fill(-1);
    for (const h of this.heads) for (let d = 0; d < h.vv.length; d++) if (h.vv[d]! > vv[d]!) vv[d] = h.vv[d]!;
    const own = this.dims.get(did);
    const head = this.authorHead(did);
    if (own !== undefined) vv[own] = head === null ? 0 : head.seq + 1;
    return {
      id: '' as EntryId,
      h: { v: 1, vault: this.vault, author: did, seq: head === null ? 0 : head.seq + 1, prev: null, deps: [], ts, type: 'grant', bodyHash: new Uint8Array(32) as EntryHeader['bodyHash'] },
      headerBytes: new Uint8Array(0),
      signature: new Uint8Array(0),
      bodyBytes: undefined,
      body: undefined,
      index: this.order.length,
      parents: [],
      vv,
      status: 'undetermined',
      via: null,
      authPast: false,
      liveAuth: false,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // The verdict
  // ---------------------------------------------------------------------------------------------

  /** Every problem of the log at `now` (sorted). */
  problems(now: number): Problem[] {
    this.checkNow(now);
    const out: Problem[] = [...this.rejected.values(), ...this.treeHeadProblems];
    for (const list of this.flagged.values()) out.push(...list);
    for (const c of this.pendingById.values()) {
      const missing = c.parentIds.filter((p) => !this.nodes.has(p));
      out.push(problem('MISSING_PARENT', c.id, `${missing.length} parent(s) not in the log`, missing));
    }
    if (!this.nodes.has(this.vault as string as EntryId)) out.push(problem('NO_GENESIS', this.vault, 'the log does not hold its genesis entry'));
    for (const n of this.order) {
      if (n.h.ts > now + MAX_CLOCK_SKEW_MS) out.push(problem('FUTURE_TIMESTAMP', n.id, 'timestamp is later than now (beyond the allowed clock skew)'));
      this.targetProblems(n, out);
    }
    for (const fork of findForks(this.treeHeads)) {
      out.push(problem('FORK', null, `${fork.signer} signed two different tree heads of size ${fork.size}`));
    }
    return out.sort(compareProblems);
  }

  /** A role-authorised entry naming a target that is absent or of the wrong type. */
  private targetProblems(n: Node, out: Problem[]): void {
    if (n.body === undefined || n.status !== 'valid') return;
    let target: EntryId | null;
    let expected: readonly EntryType[] = ['grant'];
    switch (n.h.type) {
      case 'revoke':
      case 'rekey':
      case 'erase':
        target = (n.body as { grant: EntryId }).grant;
        break;
      case 'consent':
        target = (n.body as { grant: EntryId | null }).grant;
        break;
      case 'undelegate':
        target = (n.body as UndelegateBody).delegation;
        expected = ['delegate', 'genesis'];
        break;
      case 'emergency.deny':
        target = (n.body as EmergencyDenyBody).request;
        expected = ['emergency.request'];
        break;
      default:
        return;
    }
    if (target === null) return;
    const t = this.nodes.get(target);
    if (t === undefined) {
      if (!this.flagged.get(n.id)?.some((p) => p.code === 'UNKNOWN_TARGET')) out.push(problem('UNKNOWN_TARGET', n.id, `${n.h.type} names an entry that is not in the log`, [target]));
    } else if (!expected.includes(t.h.type)) {
      out.push(problem('BAD_TARGET', n.id, `${n.h.type} names a ${t.h.type} entry`, [target]));
    } else if (n.h.type === 'undelegate' && t.body !== undefined) {
      const named = t.h.type === 'delegate' ? [(t.body as DelegateBody).delegate] : (t.body as GenesisBody).delegates.map((d) => d.delegate);
      if (!named.includes((n.body as UndelegateBody).delegate)) out.push(problem('BAD_TARGET', n.id, 'undelegate names a delegate the delegation does not name', [target]));
    }
  }

  /** The full verdict at `now`: problems, live devices, delegations and grants, heads, proofs. */
  verdict(now: number): Verdict {
    const problems = this.problems(now);
    const genesis = this.nodes.get(this.vault as string as EntryId);
    const devices: LiveDevice[] = [];
    const delegations: LiveDelegation[] = [];
    for (const [did, list] of this.enablers) {
      const owner = this.liveRole(did, OWNER_ROLES, now);
      if (owner !== null) devices.push({ did, role: owner.role === 'subject' ? 'subject' : 'device', entry: owner.node.id });
      for (const x of list) {
        if ((x.role === 'guardian' || x.role === 'emergency') && this.enablerLive(x, now)) {
          delegations.push({ entry: x.node.id, delegate: did, role: x.role, expires: x.expires, author: x.node.h.author });
        }
      }
    }
    const grants: LiveGrant[] = [];
    for (const list of this.grantsByGrantee.values()) {
      for (const g of list) {
        const live = this.liveGrant(g, now);
        if (live !== null) grants.push(live);
      }
    }
    const byEntry = (a: { entry: string }, b: { entry: string }): number => (a.entry < b.entry ? -1 : a.entry > b.entry ? 1 : 0);
    const liveSubjects = devices.filter((d) => d.role === 'subject').map((d) => d.did).sort();
    const subject = liveSubjects[0] ?? (genesis?.body === undefined ? null : (genesis.body as GenesisBody).subject);
    const protections: Protection[] = this.protections
      .filter((p) => p.status === 'valid')
      .map((p) => ({ entry: p.id, scopes: (p.body as ProtectBody).scopes, from: (p.body as ProtectBody).from, author: p.h.author }));
    return {
      valid: problems.length === 0,
      vault: this.vault,
      now,
      size: this.order.length,
      problems,
      heads: [...this.heads].map((n) => n.id).sort(),
      tree: { size: this.tree.size, root: toBase64Url(this.tree.root()) },
      subject,
      devices: devices.sort((a, b) => (a.did < b.did ? -1 : 1)),
      delegations: delegations.sort((a, b) => byEntry(a, b) || (a.delegate < b.delegate ? -1 : 1)),
      grants: grants.sort(byEntry),
      protections: protections.sort(byEntry),
      emergencies: this.emergencies(now),
      equivocations: [...this.equivocations.values()].sort((a, b) => (a.author !== b.author ? (a.author < b.author ? -1 : 1) : a.seq - b.seq)),
      forks: findForks(this.treeHeads).map((f) => ({
        signer: f.signer,
        vault: f.vault,
        size: f.size,
        heads: f.heads.map((s) => ({ head: toBase64Url(s.head), signature: toBase64Url(s.signature) })),
      })),
      withheld: this.order.filter((n) => n.bodyBytes === undefined).length,
      undetermined: this.order.filter((n) => n.status === 'undetermined').map((n) => n.id).sort(),
    };
  }
}

/**
 * Picks the vault of an unlabelled list of entries: the id that the most entries name (a genesis
 * names its own id), ties to the smaller id, so the choice never depends on input order and one
 * damaged or foreign genesis cannot take over a log whose entries all name another vault.
 */
export function vaultOf(entries: readonly SignedEntry[]): VaultId | null {
  const named = new Map<string, number>();
  for (const vault of vaultsNamed(entries)) named.set(vault, (named.get(vault) ?? 0) + 1);
  const candidates = [...named.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return (candidates[0]?.[0] ?? null) as VaultId | null;
}

/** The vault the first readable entry names (a genesis names its own id), or null if none is readable. */
function firstVaultNamed(entries: readonly SignedEntry[]): VaultId | null {
  for (const vault of vaultsNamed(entries)) return vault;
  return null;
}

/** The vault each readable entry names, in order (a genesis names its own id); unreadable ones are skipped. */
function* vaultsNamed(entries: readonly SignedEntry[]): Generator<VaultId> {
  for (const e of entries) {
    if (!(e?.header instanceof Uint8Array) || !(e.signature instanceof Uint8Array)) continue;
    let h: EntryHeader;
    try {
      h = decodeHeader(e.header);
    } catch {
      continue;
    }
    const vault = h.type === 'genesis' ? entryIdOf(e.header, e.signature) : h.vault;
    if (vault !== null) yield vault as VaultId;
  }
}

/**
 * Verifies a whole log at `now`: `verify(entries, { now })`. Pure apart from WebCrypto's
 * asynchronous signature checks; the verdict is the same for the same entries in any order.
 * Entries appearing twice are DUPLICATE_ENTRY.
 */
export async function verify(entries: readonly SignedEntry[], options: { now: number; vault?: VaultId; treeHeads?: readonly SignedTreeHead[] }): Promise<Verdict> {
  if (!isArray(entries)) throw new GrantsError('INVALID_INPUT', '"entries" expected an array');
  // vaultOf decodes every header before anything else can start: alone on one core while the
  // thread pool waits (~10% of a full verification). So verification starts with the vault the
  // first readable entry names, and vaultOf runs afterwards on the headers verification decoded
  // (memoised); only when it picks another vault (a spliced or mixed input) is the log verified
  // again, for that vault. The verdict is always the one for vaultOf's choice.
  const vault = options.vault ?? firstVaultNamed(entries);
  if (vault === null) {
    throw new GrantsError('INVALID_INPUT', 'no entry names a vault: the input holds no readable entry');
  }
  let verifier = new LogVerifier({ vault });
  await verifier.add(entries, { reportDuplicates: true });
  if (options.vault === undefined) {
    const chosen = vaultOf(entries)!; // non-null: an entry named `vault`
    if (chosen !== vault) {
      verifier = new LogVerifier({ vault: chosen });
      await verifier.add(entries, { reportDuplicates: true });
    }
  }
  if (options.treeHeads !== undefined) await verifier.addTreeHeads(options.treeHeads);
  return verifier.verdict(options.now);
}
