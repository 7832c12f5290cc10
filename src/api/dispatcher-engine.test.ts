import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage, WEAK_TEST_KDF_COST } from '../store/index.js';
import { createNodeLibp2p } from '../sync/index.js';
import { ApprovalQueue, type Approver, type Decision, type Prompt } from './approval-queue.js';
import { PageApiDispatcher, type PageEvent } from './dispatcher.js';
import { createEngineBackend, type EngineBackend } from './engine-backend.js';
import { RpcErrorCode } from './errors.js';
import { memoryPermissionPersistence, OriginPermissions } from './permissions.js';
import { RateLimiter } from './rate-limit.js';

/**
 * The page API over the real engine (every layer, libp2p on loopback): what a portal and a clinic
 * page can do, and what the user is shown before they can.
 */
const PORTAL = 'https://portal.example-hospital.org';
const CLINIC = 'https://intake.example-clinic.org';
const PASS = 'correct horse battery staple';
const engines: EngineBackend[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

function bundle(n: number, tag = 'a') {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: Array.from({ length: n }, (_, i) => ({
      fullUrl: `urn:uuid:5f0c1d2e-0000-4000-8000-${tag.charCodeAt(0).toString(16).padStart(4, '0')}${String(i).padStart(8, '0')}`,
      resource: {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
        effectiveDateTime: `2024-01-${String((i % 28) + 1).padStart(2, '0')}`,
        valueQuantity: { value: 90 + i, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      },
    })),
  };
}

async function setup(answer: (p: Prompt) => Decision | undefined = () => ({ approved: true })) {
  const address: { current?: string | undefined } = {};
  const engine = await createEngineBackend({
    storage: new MemoryStorage(),
    kdfCost: WEAK_TEST_KDF_COST,
    allowWeakKdf: true,
    idleCheckMs: 0,
    createLibp2p: (identity) => createNodeLibp2p({ identity, listen: ['/ip4/127.0.0.1/tcp/0'] }),
    relay: () => address.current,
  });
  engines.push(engine);
  await engine.create({ passphrase: PASS });
  address.current = (await engine.addresses())[0];
  const seen: Prompt[] = [];
  const waiting: ((d: Decision) => void)[] = [];
  const approver: Approver = {
    ask(prompt) {
      seen.push(prompt);
      const d = answer(prompt);
      return d ? Promise.resolve(d) : new Promise((resolve) => waiting.push(resolve));
    },
  };
  let ids = 0;
  const dispatcher = new PageApiDispatcher({
    backend: engine,
    permissions: await OriginPermissions.open(memoryPermissionPersistence()),
    approvals: new ApprovalQueue({ approver, now: Date.now, newId: () => `p${++ids}` }),
    rateLimiter: new RateLimiter({ now: Date.now }),
    now: Date.now,
  });
  return { engine, dispatcher, seen, waiting };
}

describe('page API over the engine: import', () => {
  it('shows the user what a portal offers before anything is stored, and stores it on approval', async () => {
    const { engine, dispatcher, seen } = await setup((p) => (p.details.kind === 'import' ? { approved: false, reason: 'denied' } : { approved: true }));
    await dispatcher.handle(PORTAL, { method: 'vault_connect' });
    await expect(dispatcher.handle(PORTAL, { method: 'vault_importRecords', params: { format: 'fhir', data: bundle(3) } })).rejects.toMatchObject({ code: RpcErrorCode.USER_REJECTED });
    const prompt = seen.find((p) => p.details.kind === 'import')!;
    expect(prompt.details).toMatchObject({ kind: 'import', preview: { total: 3, byType: [{ name: 'Observation', count: 3 }], sensitive: 0 } });
    expect(await engine.records!.timeline({})).toEqual([]);

    const approving = await setup();
    await approving.dispatcher.handle(PORTAL, { method: 'vault_connect' });
    expect(await approving.dispatcher.handle(PORTAL, { method: 'vault_importRecords', params: { format: 'fhir', data: bundle(3) } })).toMatchObject({ added: 3 });
    expect(await approving.engine.records!.timeline({})).toHaveLength(3);
  });

  it('refuses an invalid FHIR resource with -32602 and the records layer’s reason, without a prompt', async () => {
    const { dispatcher, seen } = await setup();
    await dispatcher.handle(PORTAL, { method: 'vault_connect' });
    const bad = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: 'not-a-date' };
    await expect(dispatcher.handle(PORTAL, { method: 'vault_importRecords', params: { format: 'fhir', data: bad } })).rejects.toMatchObject({
      code: RpcErrorCode.INVALID_PARAMS,
      data: { reason: 'INVALID_RESOURCE' },
    });
    expect(seen.filter((p) => p.details.kind === 'import')).toEqual([]);
  });

  it('turns 1,000 different import calls into at most four prompts, the rest 4290', async () => {
    const { dispatcher, seen, waiting } = await setup((p) => (p.details.kind === 'connect' ? { approved: true } : undefined));
    await dispatcher.handle(PORTAL, { method: 'vault_connect' });
    const calls = Array.from({ length: 1000 }, (_, i) =>
      dispatcher.handle(PORTAL, { method: 'vault_importRecords', params: { format: 'fhir', data: bundle(1, String.fromCharCode(97 + (i % 26)) + i) } }).then(
        () => 'ok',
        (e: { code: number }) => e.code,
      ),
    );
    await new Promise((r) => setTimeout(r, 1500));
    const imports = () => seen.filter((p) => p.details.kind === 'import').length;
    expect(imports()).toBe(1);
    for (let i = 0; i < 10 && waiting.length > 0; i++) {
      waiting.shift()!({ approved: false, reason: 'denied' });
      await new Promise((r) => setTimeout(r, 300));
    }
    const codes = await Promise.all(calls);
    expect(imports()).toBeLessThanOrEqual(4);
    expect(codes.filter((c) => c === RpcErrorCode.RATE_LIMITED).length).toBeGreaterThanOrEqual(996);
    expect(codes.every((c) => c === RpcErrorCode.RATE_LIMITED || c === RpcErrorCode.USER_REJECTED)).toBe(true);
  });
});

describe('page API over the engine: share', () => {
  it('gives the clinic a one-time invitation for what the user approved (edited down), and tells it when the grant exists', async () => {
    const patient = await setup((p) => (p.details.kind === 'share' ? { approved: true, edits: { scopes: ['labs'], purpose: 'treatment', expiresInDays: 7 } } : { approved: true }));
    const provider = await setup();
    const providerDid = (await provider.engine.status()).did!;
    await patient.dispatcher.handle(CLINIC, { method: 'vault_connect' });
    const events: PageEvent[] = [];
    patient.dispatcher.subscribe(CLINIC, (e) => events.push(e));
    const share = (await patient.dispatcher.handle(CLINIC, {
      method: 'vault_requestShare',
      params: { provider: { did: providerDid, name: 'Example Clinic' }, scopes: ['summary', 'labs', 'mental-health'], purpose: 'treatment', expiresInDays: 30 },
    })) as { invitation: string; scopes: string[]; expiresInDays: number; patient: string };
    expect(share).toMatchObject({ scopes: ['labs'], expiresInDays: 7, invitation: expect.stringMatching(/^pvault:/) });
    // The clinic's own page, in the provider's browser, redeems it.
    await provider.dispatcher.handle(CLINIC, { method: 'vault_connect' });
    const redeemed = await provider.dispatcher.handle(CLINIC, { method: 'vault_redeemInvitation', params: { invitation: share.invitation } });
    expect(redeemed).toEqual({ patient: share.patient, scopes: ['labs'] });
    await expect.poll(() => events.length).toBeGreaterThan(0);
    expect(events).toContainEqual({ event: 'shareChanged', data: { grantId: expect.any(String), status: 'live' } });
    const listed = (await provider.dispatcher.handle(CLINIC, { method: 'vault_listShared' })) as { scopes: string[]; status: string }[];
    expect(listed).toEqual([expect.objectContaining({ scopes: ['labs'], status: 'live' })]);
    // The patient revokes in the extension: the clinic's page hears that grant end.
    const grantId = events.map((e) => (e.event === 'shareChanged' ? e.data.grantId : undefined)).find((id) => id !== undefined)!;
    await patient.engine.sharing!.revoke(grantId);
    await expect.poll(() => events).toContainEqual({ event: 'shareChanged', data: { grantId, status: 'revoked' } });
  });

  it('does not let a second origin read what was shared with this device', async () => {
    const provider = await setup((p) => (p.origin === CLINIC ? { approved: true } : { approved: false, reason: 'denied' }));
    await provider.dispatcher.handle(CLINIC, { method: 'vault_connect' });
    await provider.dispatcher.handle(CLINIC, { method: 'vault_listShared' });
    await expect(provider.dispatcher.handle(PORTAL, { method: 'vault_listShared' })).rejects.toMatchObject({ code: RpcErrorCode.UNAUTHORIZED });
    await expect(provider.dispatcher.handle(PORTAL, { method: 'vault_connect' })).rejects.toMatchObject({ code: RpcErrorCode.USER_REJECTED });
  });
});
