import { SyncError } from '../errors.js';
import { deferred, type Deferred } from '../deferred.js';
import { randomBytes, toBase64Url, type Did } from '../../crypto/index.js';
import { MAX_PENDING_REQUESTS } from './constants.js';
import type { Approval, ShareRequest } from './messages.js';

/** A redeemed invitation waiting for the patient. */
export interface PendingRequest {
  readonly id: string;
  /** Proven by the connection's Noise handshake. */
  readonly from: Did;
  readonly request: ShareRequest;
  readonly at: number;
}

/** The patient's answer. */
export type Decision = { readonly approved: true; readonly approval: Approval } | { readonly approved: false; readonly reason: string };

/** Events of a {@link RequestQueue}. */
export interface RequestQueueEvents {
  request: CustomEvent<PendingRequest>;
  decided: CustomEvent<{ id: string; decision: Decision }>;
}

/**
 * Requests that wait for the patient's approval. Events: `request` when one arrives, `decided`
 * when the patient approves or denies. Bounded ({@link MAX_PENDING_REQUESTS}).
 */
export class RequestQueue extends EventTarget {
  private readonly waiting = new Map<string, { pending: PendingRequest; decision: Deferred<Decision> }>();
  private readonly max: number;

  constructor(options: { max?: number } = {}) {
    super();
    this.max = options.max ?? MAX_PENDING_REQUESTS;
  }

  /** Queues a request; throws LIMIT_REACHED when full. Returns it and a promise of the decision. */
  add(from: Did, request: ShareRequest, now: number): { pending: PendingRequest; decision: Promise<Decision> } {
    if (this.waiting.size >= this.max) throw new SyncError('LIMIT_REACHED', 'too many requests are waiting for the patient');
    const pending: PendingRequest = { id: toBase64Url(randomBytes(12)), from, request, at: now };
    const decision = deferred<Decision>();
    this.waiting.set(pending.id, { pending, decision });
    this.dispatchEvent(new CustomEvent('request', { detail: pending }));
    return { pending, decision: decision.promise };
  }

  /** Requests waiting now, oldest first. */
  pending(): PendingRequest[] {
    return [...this.waiting.values()].map((w) => w.pending);
  }

  /** One waiting request. */
  get(id: string): PendingRequest | undefined {
    return this.waiting.get(id)?.pending;
  }

  /** Approves request `id`; throws NOT_FOUND if it is not waiting. */
  approve(id: string, approval: Approval): void {
    this.decide(id, { approved: true, approval });
  }

  /** Denies request `id`. */
  deny(id: string, reason = 'the patient declined'): void {
    this.decide(id, { approved: false, reason });
  }

  private decide(id: string, decision: Decision): void {
    const entry = this.waiting.get(id);
    if (!entry) throw new SyncError('NOT_FOUND', 'no such request is waiting');
    this.waiting.delete(id);
    entry.decision.resolve(decision);
    this.dispatchEvent(new CustomEvent('decided', { detail: { id, decision } }));
  }
}
