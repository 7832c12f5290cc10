import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage, WEAK_TEST_KDF_COST } from '../store/index.js';
import { createNodeLibp2p } from '../sync/index.js';
import { createEngineBackend, type EngineBackend } from './engine-backend.js';
import { nodeEngineBackend } from './test-support.js';

/**
 * The extension's engine backend with every real layer under it (store, records, grants, sync,
 * node) over libp2p on loopback TCP: a patient and a provider, as the offscreen host runs them.
 */
const PASS = 'correct horse battery staple';
const backends: EngineBackend[] = [];
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
});

async function device(name: string, relay?: () => string | undefined): Promise<EngineBackend> {
  const backend = await nodeEngineBackend(relay);
  backends.push(backend);
  await backend.create({ passphrase: PASS, displayName: name });
  return backend;
}

/** A small synthetic record: a patient, two HbA1c results, a condition (no real data). */
const BUNDLE = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    { fullUrl: 'urn:uuid:0b6e8d2c-0000-4000-8000-000000000001', resource: { resourceType: 'Patient', name: [{ family: 'Example', given: ['Alex'] }], birthDate: '1980-02-03' } },
    ...['2024-01-10', '2024-06-12'].map((date, i) => ({
      fullUrl: `urn:uuid:0b6e8d2c-0000-4000-8000-00000000001${i}`,
      resource: {
        resourceType: 'Observation',
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: '4548-4', display: 'Hemoglobin A1c' }] },
        subject: { reference: 'urn:uuid:0b6e8d2c-0000-4000-8000-000000000001' },
        effectiveDateTime: date,
        valueQuantity: { value: 6 + i / 10, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
      },
    })),
    {
      fullUrl: 'urn:uuid:0b6e8d2c-0000-4000-8000-000000000020',
      resource: {
        resourceType: 'Condition',
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
        code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006', display: 'Diabetes mellitus type 2' }] },
        subject: { reference: 'urn:uuid:0b6e8d2c-0000-4000-8000-000000000001' },
        onsetDateTime: '2019-05-01',
      },
    },
  ],
};

describe('engine backend: records', () => {
  it('previews, imports (once), lists the timeline and charts a LOINC series', async () => {
    const patient = await device('Alex Example');
    expect((await patient.status()).capabilities).toEqual(['records', 'sharing', 'provider', 'family']);
    const input = { format: 'fhir' as const, data: BUNDLE };
    const preview = await patient.records!.preview(input);
    expect(preview.total).toBe(4);
    expect(preview.byType).toEqual([
      { name: 'Observation', count: 2 },
      { name: 'Condition', count: 1 },
      { name: 'Patient', count: 1 },
    ]);
    const progress: number[] = [];
    expect(await patient.records!.import(input, (done) => progress.push(done))).toMatchObject({ added: 4, updated: 0 });
    expect(progress.length).toBeGreaterThan(0);
    expect(await patient.records!.import(input)).toMatchObject({ added: 0, unchanged: 4 });
    const timeline = await patient.records!.timeline({});
    expect(timeline.map((r) => r.resourceType)).toEqual(['Observation', 'Observation', 'Condition', 'Patient']);
    expect(timeline[0]!.resource).toMatchObject({ valueQuantity: { value: 6.1 } });
    expect(await patient.records!.labCodes()).toEqual([{ loinc: '4548-4', display: 'Hemoglobin A1c', count: 2 }]);
    expect((await patient.records!.labSeries('4548-4')).points).toEqual([
      { t: '2024-01-10', value: 6 },
      { t: '2024-06-12', value: 6.1 },
    ]);
  });

  it('refuses an invalid bundle with INVALID_INPUT naming the rule, and imports nothing', async () => {
    const patient = await device('Alex Example');
    const bad = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: 'yesterday' } }] };
    await expect(patient.records!.preview({ format: 'fhir', data: bad })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await patient.records!.timeline({})).toEqual([]);
  });
});

describe('engine backend: sharing', () => {
  it('shares through a pre-approved invitation, shows the grant live on both sides, and revokes', async () => {
    const address: { current?: string | undefined } = {};
    const patient = await device('Alex Example', () => address.current);
    const provider = await device('Example Clinic');
    address.current = (await patient.addresses())[0];
    expect(address.current).toMatch(/\/p2p\//);
    await patient.records!.import({ format: 'fhir', data: BUNDLE });
    const providerDid = (await provider.status()).did!;
    const { invitation, patient: patientDid } = await patient.sharing!.offer(
      { provider: { did: providerDid, name: 'Example Clinic' }, scopes: ['summary', 'labs'], purpose: 'treatment', expiresInDays: 30 },
      'https://clinic.example',
    );
    expect(invitation).toMatch(/^pvault:/);
    const events: unknown[] = [];
    patient.subscribe((e) => events.push(e));
    // The provider asks for less than was approved; the patient's pre-approval decides.
    const redeemed = await provider.provider!.redeem(invitation, { scopes: ['labs'], purpose: 'treatment', expiresInDays: 5 });
    expect(redeemed).toEqual({ patient: patientDid, scopes: ['labs', 'summary'] });
    expect(events).toContainEqual(expect.objectContaining({ type: 'grants', origin: 'https://clinic.example' }));
    const grants = await patient.sharing!.grants();
    expect(grants).toEqual([expect.objectContaining({ status: 'live', scopes: ['labs', 'summary'], grantee: expect.objectContaining({ did: providerDid }) })]);
    const shared = await provider.provider!.shared({ includeEnded: true });
    // Each side shows the other by name: the patient's vault label, the name the clinic asked with.
    expect(shared).toEqual([expect.objectContaining({ status: 'live', patient: { did: patientDid, name: 'Alex Example' }, sendsResults: false })]);
    expect(grants[0]!.grantee.name).toBe('Example Clinic');
    const { records } = await provider.provider!.records({ patient: patientDid, limit: 50 });
    expect(records.map((r) => r.resourceType).sort()).toEqual(['Condition', 'Observation', 'Observation', 'Patient']);
    expect((await patient.sharing!.accessTrail()).map((r) => r.scope).sort()).toEqual(['labs', 'summary']);

    await patient.sharing!.revoke(grants[0]!.id);
    expect((await patient.sharing!.grants())[0]!.status).toBe('revoked');
    await provider.provider!.refresh();
    expect((await provider.provider!.shared({ includeEnded: true }))[0]!.status).toBe('revoked');
    await expect(provider.provider!.records({ patient: patientDid, limit: 50 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('asks the user about a request nobody pre-approved, and denies it on their word', async () => {
    const address: { current?: string | undefined } = {};
    const patient = await device('Alex Example', () => address.current);
    const provider = await device('Example Clinic');
    address.current = (await patient.addresses())[0];
    const link = (await patient.sharing!.createInvitation({ scopes: ['summary'], purpose: 'treatment', expiresInDays: 30 })).link;
    patient.subscribe((e) => {
      if (e.type === 'peer-request') void patient.sharing!.answer(e.request.id, { approved: false });
    });
    await expect(provider.provider!.redeem(link, { scopes: ['summary'], purpose: 'treatment', expiresInDays: 30 })).rejects.toMatchObject({ code: 'DENIED' });
    expect(await patient.sharing!.grants()).toEqual([]);
  });

  it('keeps the names of parties across lock and unlock, and shows them in the access trail', async () => {
    const address: { current?: string | undefined } = {};
    const patient = await device('Alex Example', () => address.current);
    const provider = await device('Example Clinic');
    address.current = (await patient.addresses())[0];
    await patient.records!.import({ format: 'fhir', data: BUNDLE });
    const providerDid = (await provider.status()).did!;
    const { invitation } = await patient.sharing!.offer({ provider: { did: providerDid, name: 'Example Clinic' }, scopes: ['labs'], purpose: 'treatment', expiresInDays: 30 }, 'https://clinic.example');
    await provider.provider!.redeem(invitation, { scopes: ['labs'], purpose: 'treatment', expiresInDays: 30 });
    await patient.lock();
    await patient.unlock(PASS);
    expect((await patient.sharing!.grants())[0]!.grantee).toEqual({ did: providerDid, name: 'Example Clinic' });
    expect((await patient.sharing!.accessTrail())[0]!.who).toEqual({ did: providerDid, name: 'Example Clinic' });
  });

  it('keeps the identity and the records across lock and unlock', async () => {
    const patient = await device('Alex Example');
    const did = (await patient.status()).did;
    await patient.records!.import({ format: 'fhir', data: BUNDLE });
    await patient.lock();
    expect(await patient.status()).toMatchObject({ state: 'locked', capabilities: [] });
    await expect(patient.records!.timeline({})).rejects.toMatchObject({ code: 'LOCKED' });
    await patient.unlock(PASS);
    expect((await patient.status()).did).toBe(did);
    expect(await patient.records!.timeline({})).toHaveLength(4);
  });
});

/** A synthetic glucose result a provider sends (no real data). */
const glucose = (value: number, id: string) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
  effectiveDateTime: '2025-07-01T08:00:00Z',
  valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});

describe('engine backend: results providers send to the patient’s inbox', () => {
  /** A patient and a clinic; the patient answers the clinic's request with `allowResults`. */
  async function pair(allowResults: boolean) {
    const address: { current?: string | undefined } = {};
    const patient = await device('Alex Example', () => address.current);
    const provider = await device('Example Clinic');
    address.current = (await patient.addresses())[0];
    const link = (await patient.sharing!.createInvitation({ scopes: ['labs'], purpose: 'treatment', expiresInDays: 30 })).link;
    patient.subscribe((e) => {
      if (e.type === 'peer-request') void patient.sharing!.answer(e.request.id, { approved: true, edits: { scopes: ['labs'], purpose: 'treatment', expiresInDays: 30, allowResults } });
    });
    const { patient: patientDid } = await provider.provider!.redeem(link, { scopes: ['labs'], purpose: 'treatment', expiresInDays: 30 });
    // The patient's side finishes writing its grant(s) after the answer went out: wait for them.
    await expect.poll(async () => (await patient.sharing!.grants()).filter((g) => g.sendsResults).length).toBe(allowResults ? 1 : 0);
    await expect
      .poll(async () => {
        await provider.provider!.refresh();
        return (await provider.provider!.shared({ includeEnded: false })).filter((g) => g.sendsResults).length;
      })
      .toBe(allowResults ? 1 : 0);
    return { patient, provider, patientDid, providerDid: (await provider.status()).did! };
  }

  it('a provider the patient allowed sends a validated result; the patient accepts one into labs and rejects another', async () => {
    const { patient, provider, patientDid, providerDid } = await pair(true);
    expect((await provider.provider!.shared({ includeEnded: false })).some((g) => g.sendsResults)).toBe(true);
    expect((await patient.sharing!.grants()).some((g) => g.sendsResults && g.grantee.name === 'Example Clinic')).toBe(true);
    const events: string[] = [];
    patient.subscribe((e) => events.push(e.type));

    const kept = await provider.provider!.sendResult(patientDid, glucose(95, 'pushed-95'));
    const dropped = await provider.provider!.sendResult(patientDid, glucose(500, 'pushed-500'));
    const inbox = await patient.sharing!.inbox();
    expect(inbox.map((i) => [i.id, i.from, i.resourceType, i.suggestedScope, i.invalid]).sort()).toEqual(
      [
        [kept.id, { did: providerDid, name: 'Example Clinic' }, 'Observation', 'labs', undefined],
        [dropped.id, { did: providerDid, name: 'Example Clinic' }, 'Observation', 'labs', undefined],
      ].sort(),
    );
    expect(events).toContain('inbox');
    // Nothing reaches the records before the patient accepts.
    expect(await patient.records!.timeline({})).toEqual([]);

    await patient.sharing!.acceptResult(providerDid, kept.id, 'labs');
    await patient.sharing!.rejectResult(providerDid, dropped.id);
    expect(await patient.sharing!.inbox()).toEqual([]);
    const timeline = await patient.records!.timeline({});
    expect(timeline.map((r) => [r.scope, (r.resource.valueQuantity as { value: number }).value])).toEqual([['labs', 95]]);
    await expect(patient.sharing!.rejectResult(providerDid, dropped.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses invalid FHIR, a Bundle, and a provider the patient did not allow', async () => {
    const { patient, provider, patientDid } = await pair(true);
    await expect(provider.provider!.sendResult(patientDid, { resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: 'yesterday' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(provider.provider!.sendResult(patientDid, { resourceType: 'Bundle', type: 'collection', entry: [{ resource: glucose(1, 'a') }] })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(provider.provider!.sendResult('did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', glucose(1, 'b'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await patient.sharing!.inbox()).toEqual([]);

    const readOnly = await pair(false);
    expect((await readOnly.provider.provider!.shared({ includeEnded: false })).every((g) => !g.sendsResults)).toBe(true);
    await expect(readOnly.provider.provider!.sendResult(readOnly.patientDid, glucose(1, 'c'))).rejects.toMatchObject({ code: 'DENIED' });
    expect(await readOnly.patient.sharing!.inbox()).toEqual([]);
  });
});

describe('engine backend: families', () => {
  /** A device on loopback TCP with its own clock (ms ahead of real time). */
  async function member(name: string) {
    const clock = { ahead: 0 };
    const address: { current?: string | undefined } = {};
    const backend = await createEngineBackend({
      storage: new MemoryStorage(),
      kdfCost: WEAK_TEST_KDF_COST,
      allowWeakKdf: true,
      idleCheckMs: 0,
      now: () => Date.now() + clock.ahead,
      createLibp2p: (identity) => createNodeLibp2p({ identity, listen: ['/ip4/127.0.0.1/tcp/0'] }),
      // On loopback TCP a device is dialled directly, not through a relay.
      dialAddress: () => address.current,
      relay: () => address.current,
    });
    backends.push(backend);
    await backend.create({ passphrase: PASS, displayName: name });
    address.current = (await backend.addresses())[0]!;
    return { backend, clock, did: (await backend.status()).did! };
  }

  it('a guardian creates a dependent’s vault, a second guardian joins by link and reads it; a dependent-only scope is marked', async () => {
    const parent = await member('Pat Example');
    const other = await member('Chris Example');
    const { vault } = await parent.backend.family!.createDependent({ label: 'Sam Example' });
    await parent.backend.records!.import({ format: 'fhir', data: BUNDLE }, undefined, vault);
    expect(await parent.backend.records!.timeline({})).toEqual([]);
    expect(await parent.backend.records!.timeline({ vault })).toHaveLength(4);
    expect((await parent.backend.family!.vaults()).find((v) => v.vault === vault)).toMatchObject({ kind: 'held', as: 'guardian', label: 'Sam Example' });

    const { link } = await parent.backend.family!.addGuardian(vault, other.did, 'Chris Example');
    expect(link).toMatch(/^pvault-family:/);
    await expect(other.backend.family!.useLink(link.slice(0, -4))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await other.backend.family!.useLink(link)).toEqual({ vault, kind: 'guardian' });
    expect((await other.backend.family!.vaults()).find((v) => v.vault === vault)).toMatchObject({ kind: 'held', as: 'guardian' });
    expect(await other.backend.records!.timeline({ vault })).toHaveLength(4);

    await parent.backend.family!.protect(vault, ['reproductive']);
    const o = await parent.backend.family!.overview(vault);
    expect(o.protectedScopes).toEqual(['reproductive']);
    expect(o.guardians.map((g) => g.name ?? g.did).sort()).toEqual(['Chris Example', 'You']);
    expect(o.trail.map((t) => t.kind)).toEqual(expect.arrayContaining(['delegate', 'protect']));
    // The verifier's rule, not only the UI: a guardian cannot give anyone a dependent-only scope.
    await expect(parent.backend.family!.addEmergencyContact(vault, other.did, { scopes: ['reproductive'], waitHours: 1 })).rejects.toMatchObject({ code: 'DENIED', reason: 'SCOPE_PROTECTED' });

    // A guardian shares Sam's summary with a school nurse: the grant is in Sam's vault, not Pat's own.
    const nurse = await member('School Nurse');
    const { link: invitation } = await parent.backend.sharing!.createInvitation({ scopes: ['summary'], purpose: 'treatment', expiresInDays: 30, vault });
    parent.backend.subscribe((e) => {
      if (e.type === 'peer-request') void parent.backend.sharing!.answer(e.request.id, { approved: true, edits: { scopes: ['summary'], purpose: 'treatment', expiresInDays: 30 } });
    });
    const redeemed = await nurse.backend.provider!.redeem(invitation, { scopes: ['summary'], purpose: 'treatment', expiresInDays: 30 });
    expect(await parent.backend.sharing!.grants(vault)).toEqual([expect.objectContaining({ status: 'live', grantee: { did: nurse.did, name: 'School Nurse' }, scopes: ['summary'] })]);
    expect(await parent.backend.sharing!.grants()).toEqual([]);
    expect((await nurse.backend.provider!.shared({ includeEnded: false }))[0]).toMatchObject({ patient: { name: 'Sam Example' }, authority: { byGuardians: true, handover: null } });
    const { records } = await nurse.backend.provider!.records({ patient: redeemed.patient, limit: 50 });
    expect(new Set(records.map((r) => r.scope))).toEqual(new Set(['summary']));
  });

  it('a provider sees the change of authority: guardians first, then the handover to the dependent, its grant still live', async () => {
    const parent = await member('Pat Example');
    const { vault } = await parent.backend.family!.createDependent({ label: 'Sam Example' });
    await parent.backend.records!.import({ format: 'fhir', data: BUNDLE }, undefined, vault);
    const nurse = await member('School Nurse');
    parent.backend.subscribe((e) => {
      if (e.type === 'peer-request') void parent.backend.sharing!.answer(e.request.id, { approved: true, edits: { scopes: ['summary'], purpose: 'treatment', expiresInDays: 30 } });
    });
    const { link: invitation } = await parent.backend.sharing!.createInvitation({ scopes: ['summary'], purpose: 'treatment', expiresInDays: 30, vault });
    await nurse.backend.provider!.redeem(invitation, { scopes: ['summary'], purpose: 'treatment', expiresInDays: 30 });
    expect(await nurse.backend.provider!.shared({ includeEnded: true })).toEqual([expect.objectContaining({ status: 'live', authority: { byGuardians: true, handover: null } })]);

    const sam = await member('Sam Example');
    const { link } = await parent.backend.family!.handover(vault, sam.did, 'read');
    expect(await sam.backend.family!.useLink(link)).toEqual({ vault, kind: 'handover' });
    await nurse.backend.provider!.refresh();
    const [after] = await nurse.backend.provider!.shared({ includeEnded: true });
    expect(after).toMatchObject({ status: 'live', authority: { handover: { at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/), guardians: 'read' } } });
  });

  it('an emergency contact asks; the patient denies in time; a second request opens when the wait ends on both clocks', async () => {
    const patient = await member('Alex Example');
    const friend = await member('Jo Example');
    await patient.backend.records!.import({ format: 'fhir', data: BUNDLE });
    const own = (await patient.backend.family!.vaults()).find((v) => v.kind === 'own')!.vault;
    const { link } = await patient.backend.family!.addEmergencyContact(own, friend.did, { scopes: ['summary'], waitHours: 48, name: 'Jo Example' });
    expect(await friend.backend.family!.useLink(link)).toEqual({ vault: own, kind: 'emergency' });
    expect((await friend.backend.family!.vaults()).find((v) => v.vault === own)).toMatchObject({ kind: 'shared', as: 'contact' });

    const first = await friend.backend.family!.requestEmergency(own, 'fell ill');
    expect(first.delivered).toBe(true);
    expect(await patient.backend.family!.alerts()).toEqual({ waitingEmergencies: 1 });
    const waiting = (await patient.backend.family!.overview(own)).emergencies;
    expect(waiting).toEqual([expect.objectContaining({ state: 'waiting', contact: { did: friend.did, name: 'Jo Example' } })]);
    await patient.backend.family!.denyEmergency(waiting[0]!.request);
    await friend.backend.family!.refresh(own);
    expect((await friend.backend.family!.overview(own)).emergencies.map((e) => e.state)).toEqual(['denied']);

    await friend.backend.family!.requestEmergency(own);
    expect((await patient.backend.family!.overview(own)).emergencies.map((e) => e.state).sort()).toEqual(['denied', 'waiting']);
    // 49 hours later on both clocks, nobody denied: access is open, and the contact reads the summary scope only.
    patient.clock.ahead = friend.clock.ahead = 49 * 3_600_000;
    expect((await patient.backend.family!.overview(own)).emergencies.map((e) => e.state).sort()).toEqual(['denied', 'open']);
    await friend.backend.family!.refresh(own);
    expect((await friend.backend.family!.vaults()).find((v) => v.vault === own)).toMatchObject({ as: 'emergency' });
    const got = await friend.backend.records!.timeline({ vault: own });
    expect(new Set(got.map((r) => r.scope))).toEqual(new Set(['summary']));
    expect(got.length).toBeGreaterThan(0);
  });
});
