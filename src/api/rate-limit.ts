import { RATE_BURST, RATE_MAX_ORIGINS, RATE_PER_SECOND } from './constants.js';

/** Options of {@link RateLimiter}. */
export interface RateLimiterInit {
  /** Calls that may pass at once. @default RATE_BURST */
  readonly burst?: number;
  /** Tokens refilled per second. @default RATE_PER_SECOND */
  readonly perSecond?: number;
  /** Buckets kept; the least recently used is dropped beyond it. @default RATE_MAX_ORIGINS */
  readonly maxKeys?: number;
  /** The clock, in ms. Injected so tests need no waiting. */
  readonly now: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** The outcome of {@link RateLimiter.take}. */
export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

/**
 * A token bucket per key (origin). Pure apart from the injected clock. A forgotten bucket comes
 * back full, so `maxKeys` must exceed the origins one user can have open at once (it does, by far).
 */
export class RateLimiter {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  // A Map, not an object: keys are page-controlled strings such as "__proto__".
  readonly #buckets = new Map<string, Bucket>();

  constructor(init: RateLimiterInit) {
    this.#burst = init.burst ?? RATE_BURST;
    this.#perMs = (init.perSecond ?? RATE_PER_SECOND) / 1000;
    this.#maxKeys = init.maxKeys ?? RATE_MAX_ORIGINS;
    this.#now = init.now;
    if (!(this.#burst >= 1) || !(this.#perMs > 0) || !(this.#maxKeys >= 1)) throw new RangeError('rate limiter limits must be positive');
  }

  /** Takes one token for `key`, or says how long until one is available. */
  take(key: string): RateDecision {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, at: now };
    } else {
      this.#buckets.delete(key); // re-inserted below: Map order is our LRU order
      // A clock that goes backwards refills nothing rather than draining the bucket.
      const elapsed = Math.max(0, now - bucket.at);
      bucket.tokens = Math.min(this.#burst, bucket.tokens + elapsed * this.#perMs);
      bucket.at = now;
    }
    this.#buckets.set(key, bucket);
    while (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) break;
      this.#buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: (1 - bucket.tokens) / this.#perMs };
  }
}
