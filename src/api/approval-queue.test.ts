import { describe, expect, it } from 'vitest';
import { ApprovalQueue, type Approver, type Decision, type Prompt } from './approval-queue.js';
import { RpcErrorCode } from './errors.js';

/** An approver a test answers by hand: it records what the user would see. */
function scriptedApprover() {
  const open: { prompt: Prompt; answer: (d: Decision) => void; signal: AbortSignal }[] = [];
  const approver: Approver = {
    ask: (prompt, signal) => new Promise((answer) => open.push({ prompt, answer, signal })),
  };
  return { approver, open };
}

function queue(overrides: Partial<ConstructorParameters<typeof ApprovalQueue>[0]> = {}) {
  const { approver, open } = scriptedApprover();
  let n = 0;
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const q = new ApprovalQueue({
    approver,
    now: () => 1000 + n,
    newId: () => `p${++n}`,
    schedule: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return () => (t.cancelled = true);
    },
    maxQueuedPerOrigin: 2,
    maxQueued: 5,
    ...overrides,
  });
  return { q, open, timers };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('ApprovalQueue', () => {
  it('shows one prompt per origin at a time and the next after it is answered', async () => {
    const { q, open } = queue();
    const first = q.request('https://a.example', { kind: 'connect' }, 'one');
    const second = q.request('https://a.example', { kind: 'provider-read' }, 'two');
    expect(open).toHaveLength(1);
    expect(q.shown().map((p) => p.details.kind)).toEqual(['connect']);
    open[0]!.answer({ approved: true });
    expect(await first).toEqual({ approved: true });
    await flush();
    expect(open).toHaveLength(2);
    open[1]!.answer({ approved: false, reason: 'denied' });
    expect(await second).toEqual({ approved: false, reason: 'denied' });
    expect(q.size()).toBe(0);
  });

  it('shows prompts of different origins side by side', () => {
    const { q, open } = queue();
    void q.request('https://a.example', { kind: 'connect' }, 'connect');
    void q.request('https://b.example', { kind: 'connect' }, 'connect');
    expect(open.map((o) => o.prompt.origin)).toEqual(['https://a.example', 'https://b.example']);
  });

  it('coalesces identical requests of one origin into one prompt with one answer', async () => {
    const { q, open } = queue();
    const calls = Array.from({ length: 100 }, () => q.request('https://a.example', { kind: 'connect' }, 'connect'));
    expect(open).toHaveLength(1);
    open[0]!.answer({ approved: true });
    expect(new Set(await Promise.all(calls)).size).toBe(1);
  });

  it('never lets one origin answer another origin’s identical request', async () => {
    const { q, open } = queue();
    const a = q.request('https://a.example', { kind: 'connect' }, 'connect');
    const b = q.request('https://b.example', { kind: 'connect' }, 'connect');
    open[0]!.answer({ approved: true });
    expect(await a).toEqual({ approved: true });
    let bSettled = false;
    void b.then(() => (bSettled = true));
    await flush();
    expect(bSettled).toBe(false);
  });

  it('refuses with 4290 beyond the per-origin and global waiting limits', () => {
    const { q } = queue();
    void q.request('https://a.example', { kind: 'connect' }, '1');
    void q.request('https://a.example', { kind: 'connect' }, '2');
    void q.request('https://a.example', { kind: 'connect' }, '3');
    expect(() => q.request('https://a.example', { kind: 'connect' }, '4')).toThrow(expect.objectContaining({ code: RpcErrorCode.RATE_LIMITED }));
    void q.request('https://b.example', { kind: 'connect' }, '1');
    void q.request('https://c.example', { kind: 'connect' }, '1');
    expect(() => q.request('https://d.example', { kind: 'connect' }, '1')).toThrow(expect.objectContaining({ code: RpcErrorCode.RATE_LIMITED }));
  });

  it('withdraws an origin’s prompts, aborting the shown one', async () => {
    const { q, open } = queue();
    const a = q.request('https://a.example', { kind: 'connect' }, '1');
    const b = q.request('https://a.example', { kind: 'connect' }, '2');
    q.withdraw('https://a.example');
    expect(await a).toEqual({ approved: false, reason: 'withdrawn' });
    expect(await b).toEqual({ approved: false, reason: 'withdrawn' });
    expect(open[0]!.signal.aborted).toBe(true);
    expect(q.shown()).toEqual([]);
  });

  it('times a prompt out as rejected and moves on', async () => {
    const { q, open, timers } = queue();
    const a = q.request('https://a.example', { kind: 'connect' }, '1');
    void q.request('https://a.example', { kind: 'connect' }, '2');
    timers[0]!.fn();
    expect(await a).toEqual({ approved: false, reason: 'timeout' });
    expect(open).toHaveLength(2);
    expect(open[0]!.signal.aborted).toBe(true);
  });

  it('treats an approver that throws or rejects as a denial', async () => {
    const q = new ApprovalQueue({
      approver: { ask: () => Promise.reject(new Error('window closed')) },
      now: () => 0,
      newId: () => 'x',
    });
    expect(await q.request('https://a.example', { kind: 'connect' }, '1')).toEqual({ approved: false, reason: 'denied' });
    const q2 = new ApprovalQueue({
      approver: {
        ask: () => {
          throw new Error('boom');
        },
      },
      now: () => 0,
      newId: () => 'x',
    });
    expect(await q2.request('https://a.example', { kind: 'connect' }, '1')).toEqual({ approved: false, reason: 'denied' });
  });

  it('ignores a late answer after a timeout', async () => {
    const { q, open, timers } = queue();
    const a = q.request('https://a.example', { kind: 'connect' }, '1');
    timers[0]!.fn();
    open[0]!.answer({ approved: true });
    expect(await a).toEqual({ approved: false, reason: 'timeout' });
  });
});
