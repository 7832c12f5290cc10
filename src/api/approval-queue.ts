import {
  MAX_QUEUED_PROMPTS,
  MAX_QUEUED_PROMPTS_PER_ORIGIN,
  PROMPT_TIMEOUT_MS,
} from './constants.js';
import { rpcErrors } from './errors.js';
import type { ImportPreview, PeerRequest } from './backend.js';
import type { Purpose, Scope, ShareParams } from './schemas.js';

/** What the user is asked. */
export type PromptDetails =
  | { readonly kind: 'connect' }
  | { readonly kind: 'import'; readonly preview: ImportPreview; readonly label?: string }
  | { readonly kind: 'share'; readonly request: ShareParams }
  | { readonly kind: 'provider-read' }
  | { readonly kind: 'peer-request'; readonly request: PeerRequest };

/** A question for the user, as the approval UI shows it. */
export interface Prompt {
  /** Random id; the UI answers by it. */
  readonly id: string;
  /** The origin asking, as the browser reported it (never as the page claimed it). */
  readonly origin: string;
  /** ms since epoch. */
  readonly createdAt: number;
  readonly details: PromptDetails;
}

/** What the user changed before approving a share: they may narrow or widen it. */
export interface ShareEdits {
  readonly scopes: readonly Scope[];
  readonly purpose: Purpose;
  readonly expiresInDays: number;
  /** The provider may also send new results to the patient's inbox (each reviewed before it is kept). */
  readonly allowResults?: boolean;
}

/** The user's answer. */
export type Decision =
  | { readonly approved: true; readonly edits?: ShareEdits }
  | { readonly approved: false; readonly reason: 'denied' | 'timeout' | 'withdrawn' };

/**
 * Shows one prompt to the user and resolves with their answer. The extension's approver puts it in
 * the approval window; tests inject one that answers by script. `signal` aborts when the queue
 * withdraws the prompt (the page went away, or it timed out): the approver should hide it.
 */
export interface Approver {
  ask(prompt: Prompt, signal: AbortSignal): Promise<Decision>;
}

/** Options of {@link ApprovalQueue}. */
export interface ApprovalQueueInit {
  readonly approver: Approver;
  /** ms since epoch. */
  readonly now: () => number;
  /** A fresh unguessable id. */
  readonly newId: () => string;
  /** Schedules `fn` after `ms`; returns a cancel function. @default setTimeout */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /** @default PROMPT_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** Prompts waiting behind the shown one, per origin. @default MAX_QUEUED_PROMPTS_PER_ORIGIN */
  readonly maxQueuedPerOrigin?: number;
  /** Prompts waiting in total. @default MAX_QUEUED_PROMPTS */
  readonly maxQueued?: number;
}

interface Entry {
  readonly prompt: Prompt;
  readonly key: string;
  readonly promise: Promise<Decision>;
  readonly resolve: (d: Decision) => void;
  readonly abort: AbortController;
  cancelTimer?: () => void;
  settled: boolean;
}

interface OriginQueue {
  active: Entry | undefined;
  readonly waiting: Entry[];
}

const defaultSchedule = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/**
 * The approval queue: at most one prompt per origin is in front of the user at a time; identical
 * requests from one origin while one is pending share its answer (a page clicking "save" ten times
 * asks once); a few more may wait; beyond that the page gets 4290 and the user sees nothing.
 */
export class ApprovalQueue {
  readonly #init: Required<Omit<ApprovalQueueInit, 'approver' | 'now' | 'newId'>> & ApprovalQueueInit;
  readonly #origins = new Map<string, OriginQueue>();
  readonly #listeners = new Set<() => void>();

  constructor(init: ApprovalQueueInit) {
    this.#init = {
      schedule: defaultSchedule,
      timeoutMs: PROMPT_TIMEOUT_MS,
      maxQueuedPerOrigin: MAX_QUEUED_PROMPTS_PER_ORIGIN,
      maxQueued: MAX_QUEUED_PROMPTS,
      ...init,
    };
  }

  /**
   * Asks the user, once the origin's earlier prompts are answered. `key` identifies identical
   * requests (compared exactly: coalescing two different requests would approve one unseen).
   * Throws 4290 when the origin (or everyone) has too many waiting.
   */
  request(origin: string, details: PromptDetails, key: string): Promise<Decision> {
    let queue = this.#origins.get(origin);
    const same = queue && [queue.active, ...queue.waiting].find((e) => e !== undefined && e.key === key);
    if (same) return same.promise;
    if (queue?.active && queue.waiting.length >= this.#init.maxQueuedPerOrigin) {
      throw rpcErrors.rateLimited(1000, 'Too many requests from this origin are waiting for the user');
    }
    if (this.size() >= this.#init.maxQueued) throw rpcErrors.rateLimited(1000, 'Too many requests are waiting for the user');
    let resolve!: (d: Decision) => void;
    const promise = new Promise<Decision>((r) => (resolve = r));
    const entry: Entry = {
      prompt: { id: this.#init.newId(), origin, createdAt: this.#init.now(), details },
      key,
      promise,
      resolve,
      abort: new AbortController(),
      settled: false,
    };
    if (!queue) {
      queue = { active: undefined, waiting: [] };
      this.#origins.set(origin, queue);
    }
    if (queue.active) queue.waiting.push(entry);
    else this.#start(queue, entry);
    this.#changed();
    return promise;
  }

  /** Withdraws every prompt of `origin` (its page closed, or the user revoked it): each resolves rejected. */
  withdraw(origin: string): void {
    const queue = this.#origins.get(origin);
    if (!queue) return;
    this.#origins.delete(origin);
    for (const entry of [...queue.waiting, ...(queue.active ? [queue.active] : [])]) this.#settle(entry, { approved: false, reason: 'withdrawn' });
    this.#changed();
  }

  /** The prompts in front of the user now: one per origin, oldest first. */
  shown(): Prompt[] {
    return [...this.#origins.values()]
      .flatMap((q) => (q.active ? [q.active.prompt] : []))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Prompts shown plus waiting. */
  size(): number {
    let n = 0;
    for (const q of this.#origins.values()) n += q.waiting.length + (q.active ? 1 : 0);
    return n;
  }

  /** Calls `fn` whenever the set of prompts changes; returns an unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #start(queue: OriginQueue, entry: Entry): void {
    queue.active = entry;
    entry.cancelTimer = this.#init.schedule(() => this.#finish(entry, { approved: false, reason: 'timeout' }), this.#init.timeoutMs);
    let asked: Promise<Decision>;
    try {
      asked = this.#init.approver.ask(entry.prompt, entry.abort.signal);
    } catch {
      asked = Promise.resolve({ approved: false, reason: 'denied' });
    }
    asked.then(
      (d) => this.#finish(entry, d),
      () => this.#finish(entry, { approved: false, reason: 'denied' }),
    );
  }

  #finish(entry: Entry, decision: Decision): void {
    if (entry.settled) return;
    this.#settle(entry, decision);
    const queue = this.#origins.get(entry.prompt.origin);
    if (queue?.active === entry) {
      const next = queue.waiting.shift();
      if (next) this.#start(queue, next);
      else {
        queue.active = undefined;
        this.#origins.delete(entry.prompt.origin);
      }
    }
    this.#changed();
  }

  #settle(entry: Entry, decision: Decision): void {
    if (entry.settled) return;
    entry.settled = true;
    entry.cancelTimer?.();
    entry.abort.abort();
    entry.resolve(decision);
  }

  #changed(): void {
    for (const fn of this.#listeners) {
      try {
        fn();
      } catch {
        // A listener's failure must not break the queue.
      }
    }
  }
}
