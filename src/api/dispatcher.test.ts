import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage, WEAK_TEST_KDF_COST } from '../store/index.js';
import { ApprovalQueue, type Approver, type Decision, type Prompt } from './approval-queue.js';
import { PageApiDispatcher, type PageEvent } from './dispatcher.js';
import { RpcErrorCode } from './errors.js';
import { memoryPermissionPersistence, OriginPermissions } from './permissions.js';
import { RateLimiter } from './rate-limit.js';
import { METHODS, type MethodName } from './schemas.js';
import { createStoreBackend, type StoreBackend } from './store-backend.js';

const A = 'https://portal.example-hospital.org';
const B = 'https://evil.example';
const PASS = 'correct horse battery staple';

/** The user, as a test scripts them: answers every prompt with `answer`, and remembers what they saw. */
function scriptedUser(answer: (p: Prompt) => Decision | undefined = () => ({ approved: true })) {
  const seen: Prompt[] = [];
  const waiting: { prompt: Prompt; resolve: (d: Decision) => void }[] = [];
  const approver: Approver = {
    ask(prompt) {
      seen.push(prompt);
      const d = answer(prompt);
      if (d) return Promise.resolve(d);
      return new Promise((resolve) => waiting.push({ prompt, resolve }));
    },
  };
  return { approver, seen, waiting };
}

const backends: StoreBackend[] = [];
afterEach(() => {
  for (const b of backends.splice(0)) b.close();
});

async function setup(options: { answer?: (p: Prompt) => Decision | undefined; vault?: 'none' | 'unlocked' | 'locked'; burst?: number } = {}) {
  let now = 1_000_000;
  const backend = await createStoreBackend({ storage: new MemoryStorage(), kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true, now: () => now, idleCheckMs: 0 });
  backends.push(backend);
  if (options.vault !== 'none') await backend.create({ passphrase: PASS });
  if (options.vault === 'locked') await backend.lock();
  const user = scriptedUser(options.answer);
  const permissions = await OriginPermissions.open(memoryPermissionPersistence());
  let ids = 0;
  const approvals = new ApprovalQueue({ approver: user.approver, now: () => now, newId: () => `prompt-${++ids}` });
  const dispatcher = new PageApiDispatcher({
    backend,
    permissions,
    approvals,
    now: () => now,
    rateLimiter: new RateLimiter({ now: () => now, ...(options.burst !== undefined && { burst: options.burst }) }),
  });
  return { backend, dispatcher, permissions, user, tick: (ms: number) => (now += ms) };
}

async function codeOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: number }).code;
  }
  return undefined;
}

const call = (d: PageApiDispatcher, origin: string, method: string, params?: unknown) => d.handle(origin, params === undefined ? { method } : { method, params });

describe('PageApiDispatcher: before connect', () => {
  it('refuses every method but vault_connect with 4100, without asking the user', async () => {
    const { dispatcher, user } = await setup();
    for (const [method, params] of [
      ['vault_status', undefined],
      ['vault_importRecords', { format: 'fhir', data: { resourceType: 'Patient' } }],
      ['vault_requestShare', { provider: { did: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', name: 'X' }, scopes: ['labs'], purpose: 'treatment', expiresInDays: 1 }],
      ['vault_listShared', undefined],
      ['vault_getRecords', { patient: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK' }],
      ['vault_redeemInvitation', { invitation: 'pvault:abcdefgh' }],
    ] as const) {
      expect(await codeOf(call(dispatcher, A, method, params))).toBe(RpcErrorCode.UNAUTHORIZED);
    }
    expect(user.seen).toEqual([]);
  });

  it('answers 4100, not -32602, to a page that has not connected whatever params it sends', async () => {
    const { dispatcher, user } = await setup({ burst: 1000 });
    for (const method of METHODS.filter((m) => m !== 'vault_connect')) {
      for (const params of [undefined, {}, 'x', { unexpected: true }]) {
        expect(await codeOf(call(dispatcher, A, method, params))).toBe(RpcErrorCode.UNAUTHORIZED);
      }
    }
    expect(user.seen).toEqual([]);
  });

  it('refuses origins that may not use the API at all', async () => {
    const { dispatcher, user } = await setup();
    for (const origin of ['null', 'http://evil.example', 'file://', 'chrome-extension://abcdef']) {
      expect(await codeOf(call(dispatcher, origin, 'vault_connect'))).toBe(RpcErrorCode.UNAUTHORIZED);
    }
    expect(user.seen).toEqual([]);
  });
});

describe('PageApiDispatcher: connect', () => {
  it('connects an origin the user approves, shows the browser-reported origin, and asks only once', async () => {
    const { dispatcher, user } = await setup();
    expect(await call(dispatcher, A, 'vault_connect')).toEqual({ connected: true, origin: A });
    expect(await call(dispatcher, A, 'vault_connect')).toEqual({ connected: true, origin: A });
    expect(user.seen.map((p) => [p.origin, p.details.kind])).toEqual([[A, 'connect']]);
    expect(await call(dispatcher, A, 'vault_status')).toEqual({ connected: true, hasVault: true, locked: false });
  });

  it('answers 4001 when the user rejects, and stays disconnected', async () => {
    const { dispatcher } = await setup({ answer: () => ({ approved: false, reason: 'denied' }) });
    expect(await codeOf(call(dispatcher, A, 'vault_connect'))).toBe(RpcErrorCode.USER_REJECTED);
    expect(await codeOf(call(dispatcher, A, 'vault_status'))).toBe(RpcErrorCode.UNAUTHORIZED);
  });

  it('reports a missing or locked vault in vault_status without unlocking anything', async () => {
    const none = await setup({ vault: 'none' });
    await call(none.dispatcher, A, 'vault_connect');
    expect(await call(none.dispatcher, A, 'vault_status')).toEqual({ connected: true, hasVault: false, locked: true });
    const locked = await setup({ vault: 'locked' });
    await call(locked.dispatcher, A, 'vault_connect');
    expect(await call(locked.dispatcher, A, 'vault_status')).toEqual({ connected: true, hasVault: true, locked: true });
  });
});

describe('PageApiDispatcher: a second origin', () => {
  it('does not inherit the first origin’s approval, prompt or events', async () => {
    const { dispatcher, user, backend } = await setup({ answer: (p) => (p.origin === A ? { approved: true } : undefined) });
    await call(dispatcher, A, 'vault_connect');
    const eventsA: PageEvent[] = [];
    const eventsB: PageEvent[] = [];
    dispatcher.subscribe(A, (e) => eventsA.push(e));
    dispatcher.subscribe(B, (e) => eventsB.push(e));
    expect(await codeOf(call(dispatcher, B, 'vault_status'))).toBe(RpcErrorCode.UNAUTHORIZED);
    expect(await codeOf(call(dispatcher, B, 'vault_listShared'))).toBe(RpcErrorCode.UNAUTHORIZED);
    // B's own connect waits for its own answer: A's earlier approval does not stand for it.
    let bSettled = false;
    void call(dispatcher, B, 'vault_connect').finally(() => (bSettled = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(bSettled).toBe(false);
    expect(user.waiting.map((w) => w.prompt.origin)).toEqual([B]);
    await backend.lock();
    expect(eventsA).toEqual([{ event: 'lockChanged', data: { locked: true } }]);
    expect(eventsB).toEqual([]);
  });
});

describe('PageApiDispatcher: malformed and hostile input', () => {
  it('answers -32600 for a malformed envelope and 4200 for unknown or inherited method names', async () => {
    const { dispatcher } = await setup();
    for (const bad of [null, 42, 'vault_connect', [], { method: 7 }, { params: {} }]) {
      expect(await codeOf(dispatcher.handle(A, bad))).toBe(RpcErrorCode.INVALID_REQUEST);
    }
    for (const method of ['eth_requestAccounts', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'vault_Connect']) {
      expect(await codeOf(call(dispatcher, A, method))).toBe(RpcErrorCode.UNSUPPORTED_METHOD);
    }
  });

  it('answers -32602 for malformed params of a connected page, before any prompt', async () => {
    const { dispatcher, user } = await setup();
    await call(dispatcher, A, 'vault_connect');
    const bad: [string, unknown][] = [
      ['vault_connect', { extra: 1 }],
      ['vault_status', 'now'],
      ['vault_importRecords', { format: 'fhir' }],
      ['vault_importRecords', { format: 'fhir', data: 'Patient' }],
      ['vault_requestShare', { scopes: 'all' }],
      ['vault_getRecords', { patient: 'someone' }],
    ];
    for (const [method, params] of bad) expect(await codeOf(call(dispatcher, A, method, params))).toBe(RpcErrorCode.INVALID_PARAMS);
    expect(user.seen).toHaveLength(1);
  });

  it('answers every method’s wrong-typed, unknown-keyed, oversized and polluted params with -32602 and no prompt', async () => {
    const { dispatcher, user } = await setup({ burst: 1000 });
    await call(dispatcher, A, 'vault_connect');
    const did = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';
    const long = 'x'.repeat(4 * 1024 * 1024);
    const polluted = (base: object): object => ({ ...base, ...(JSON.parse('{"__proto__":{"admin":true}}') as object) });
    const share = { provider: { did, name: 'Example Clinic' }, scopes: ['labs'], purpose: 'treatment', expiresInDays: 30 };
    const cases: Record<MethodName, unknown[]> = {
      vault_connect: [{ extra: 1 }, 'x', [1], polluted({})],
      vault_status: ['now', 7, { locked: false }, polluted({})],
      vault_importRecords: [
        undefined,
        { format: 'pdf', data: {} },
        { format: 'fhir', data: [] },
        { format: 'smart-health-card', data: long },
        { format: 'fhir', data: { resourceType: 'Patient' }, label: long },
        polluted({ format: 'fhir', data: { resourceType: 'Patient' } }),
      ],
      vault_requestShare: [
        undefined,
        { ...share, scopes: ['labs', 'labs'] },
        { ...share, expiresInDays: 1e9 },
        { ...share, expiresInDays: 1.5 },
        { ...share, provider: { did: 'did:web:evil.example', name: 'X' } },
        { ...share, provider: { did, name: long } },
        { ...share, note: long },
        { ...share, purpose: 'marketing' },
        polluted(share),
      ],
      vault_listShared: ['all', { includeEnded: 'yes' }, { other: true }, polluted({})],
      vault_getRecords: [
        undefined,
        { patient: did, limit: 100_000 },
        { patient: did, limit: -1 },
        { patient: did, resourceType: '<script>' },
        { patient: did, cursor: long },
        { patient: did, scope: 'everything' },
        polluted({ patient: did }),
      ],
      vault_redeemInvitation: [
        undefined,
        { invitation: 'https://evil.example' },
        { invitation: `pvault:${long}` },
        { invitation: 'pvault:abcdefgh', scopes: [] },
        { invitation: 'pvault:abcdefgh', expiresInDays: 0 },
        polluted({ invitation: 'pvault:abcdefgh' }),
      ],
    };
    expect(Object.keys(cases).sort()).toEqual([...METHODS].sort());
    for (const [method, list] of Object.entries(cases)) {
      for (const params of list) {
        const r = await dispatcher.respond(A, { method, params });
        expect(r, method).toMatchObject({ ok: false, error: { code: RpcErrorCode.INVALID_PARAMS } });
        // The message names the field, never echoes what the page sent.
        expect(JSON.stringify(r).length, method).toBeLessThan(1000);
      }
    }
    expect(user.seen).toHaveLength(1);
    expect((Object.prototype as Record<string, unknown>).admin).toBeUndefined();
  });

  it('refuses prototype-pollution params and leaves Object.prototype clean', async () => {
    const { dispatcher } = await setup();
    const polluted = JSON.parse('{"method":"vault_connect","params":{"__proto__":{"isAdmin":true}}}');
    expect(await codeOf(dispatcher.handle(A, polluted))).toBe(RpcErrorCode.INVALID_PARAMS);
    const nested = JSON.parse(
      '{"method":"vault_importRecords","params":{"format":"fhir","data":{"resourceType":"Bundle","entry":[{"resource":{"constructor":{"prototype":{"x":1}}}}]}}}',
    );
    expect(await codeOf(dispatcher.handle(A, nested))).toBe(RpcErrorCode.INVALID_PARAMS);
    expect((Object.prototype as Record<string, unknown>).isAdmin).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).x).toBeUndefined();
  });

  it('refuses an oversized payload with -32602 without reaching the vault or the user', async () => {
    const { dispatcher, user } = await setup();
    await call(dispatcher, A, 'vault_connect');
    const huge = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Binary', data: 'A'.repeat(33 * 1024 * 1024) } }] };
    expect(await codeOf(call(dispatcher, A, 'vault_importRecords', { format: 'fhir', data: huge }))).toBe(RpcErrorCode.INVALID_PARAMS);
    expect(user.seen).toHaveLength(1);
  });

  it('answers 4900 for data methods while the vault is locked, without prompting', async () => {
    const { dispatcher, user } = await setup({ vault: 'locked' });
    await call(dispatcher, A, 'vault_connect');
    expect(await codeOf(call(dispatcher, A, 'vault_importRecords', { format: 'fhir', data: { resourceType: 'Patient' } }))).toBe(RpcErrorCode.VAULT_LOCKED);
    expect(await codeOf(call(dispatcher, A, 'vault_listShared'))).toBe(RpcErrorCode.VAULT_LOCKED);
    expect(user.seen).toHaveLength(1);
  });
});

describe('PageApiDispatcher: bursts', () => {
  it('turns 1,000 vault_connect calls into one prompt and rate-limits the rest with 4290', async () => {
    const { dispatcher, user } = await setup({ answer: () => undefined });
    const results = Array.from({ length: 1000 }, () => call(dispatcher, A, 'vault_connect').then(() => 'ok', (e: { code: number }) => e.code));
    await new Promise((r) => setTimeout(r, 20));
    expect(user.seen).toHaveLength(1);
    user.waiting[0]!.resolve({ approved: true });
    const codes = await Promise.all(results);
    const ok = codes.filter((c) => c === 'ok').length;
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThanOrEqual(30);
    expect(codes.filter((c) => c === RpcErrorCode.RATE_LIMITED)).toHaveLength(1000 - ok);
    expect(user.seen).toHaveLength(1);
  });

  it('lets the origin call again once the bucket refills, and keeps other origins unaffected', async () => {
    const { dispatcher, tick } = await setup();
    await call(dispatcher, A, 'vault_connect');
    await call(dispatcher, B, 'vault_connect');
    const burst = await Promise.all(Array.from({ length: 200 }, () => codeOf(call(dispatcher, A, 'vault_status'))));
    expect(burst.filter((c) => c === RpcErrorCode.RATE_LIMITED).length).toBeGreaterThanOrEqual(170);
    expect(await call(dispatcher, B, 'vault_status')).toMatchObject({ connected: true });
    tick(1000);
    expect(await call(dispatcher, A, 'vault_status')).toMatchObject({ connected: true });
  });

  it('carries retryAfterMs in a 4290 error', async () => {
    const { dispatcher } = await setup({ burst: 1 });
    await call(dispatcher, A, 'vault_connect');
    try {
      await call(dispatcher, A, 'vault_status');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: RpcErrorCode.RATE_LIMITED, data: { retryAfterMs: expect.any(Number) } });
    }
  });
});

describe('PageApiDispatcher: disconnect', () => {
  it('withdraws the origin’s waiting prompt (4001) and forgets the origin', async () => {
    const { dispatcher, user } = await setup({ answer: (p) => (p.origin === A ? { approved: true } : undefined) });
    await call(dispatcher, A, 'vault_connect');
    const waitingB = call(dispatcher, B, 'vault_connect');
    await new Promise((r) => setTimeout(r, 10));
    expect(user.waiting).toHaveLength(1);
    await dispatcher.disconnect(B);
    expect(await codeOf(waitingB)).toBe(RpcErrorCode.USER_REJECTED);
    await dispatcher.disconnect(A);
    expect(await codeOf(call(dispatcher, A, 'vault_status'))).toBe(RpcErrorCode.UNAUTHORIZED);
  });
});
