import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('lets a burst through, then refuses until tokens refill', () => {
    let now = 0;
    const rl = new RateLimiter({ burst: 3, perSecond: 2, now: () => now });
    expect([rl.take('a'), rl.take('a'), rl.take('a')].every((d) => d.ok)).toBe(true);
    const refused = rl.take('a');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAfterMs).toBeCloseTo(500);
    now += 500;
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
  });

  it('keeps origins apart, including one named __proto__', () => {
    const rl = new RateLimiter({ burst: 1, perSecond: 1, now: () => 0 });
    expect(rl.take('__proto__').ok).toBe(true);
    expect(rl.take('__proto__').ok).toBe(false);
    expect(rl.take('https://b.example').ok).toBe(true);
  });

  it('passes only the burst out of 1,000 calls at one instant', () => {
    const rl = new RateLimiter({ burst: 30, perSecond: 10, now: () => 1 });
    let passed = 0;
    for (let i = 0; i < 1000; i++) if (rl.take('https://a.example').ok) passed++;
    expect(passed).toBe(30);
  });

  it('does not refill when the clock goes backwards', () => {
    let now = 10_000;
    const rl = new RateLimiter({ burst: 1, perSecond: 1, now: () => now });
    rl.take('a');
    now = 0;
    expect(rl.take('a').ok).toBe(false);
  });

  it('forgets the least recently used origin beyond maxKeys', () => {
    const rl = new RateLimiter({ burst: 1, perSecond: 0.001, maxKeys: 2, now: () => 0 });
    rl.take('a');
    rl.take('b');
    rl.take('c'); // evicts a
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('c').ok).toBe(false);
  });
});
