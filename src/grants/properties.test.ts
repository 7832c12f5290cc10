import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../crypto/index.js';
import { GrantsError } from './errors.js';
import { decodeLogFile, encodeLogFile, exportLog, verifyLogFile } from './log-file.js';
import { entryIdOf } from './entry.js';
import { LogVerifier, verify } from './log-verifier.js';
import { DAY, HOUR, T0, merge, newVault, party, replicaOf, type Replica } from './testkit.js';
import type { EntryId, SignedEntry } from './types.js';

/**
 * Property tests (fast-check) over randomly built logs: several writers on diverging replicas
 * (concurrent grants, revocations, removals, undelegations, equivocation), merged at random points.
 */

const phone = party('phone');
const laptop = party('laptop');
const guardian = party('guardian');
const providers = [party('p0'), party('p1'), party('p2')];
const friend = party('friend');
const heir = party('heir');
const NOW = T0 + 60 * DAY;

type Action =
  | { kind: 'grant'; by: number; to: number; scopes: number; expires: number | null }
  | { kind: 'revoke'; by: number; pick: number }
  | { kind: 'access'; pick: number }
  | { kind: 'branch' }
  | { kind: 'merge' }
  | { kind: 'removeLaptop' }
  | { kind: 'undelegate' }
  | { kind: 'equivocate' }
  | { kind: 'race'; who: number }
  | { kind: 'protect'; scopes: number }
  | { kind: 'handover'; read: boolean }
  | { kind: 'emergency'; deny: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('grant' as const), by: fc.nat(2), to: fc.nat(2), scopes: fc.integer({ min: 1, max: 7 }), expires: fc.option(fc.integer({ min: 1, max: 90 }), { nil: null }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('revoke' as const), by: fc.nat(3), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('access' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'branch' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'merge' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'removeLaptop' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'undelegate' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'equivocate' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('race' as const), who: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('protect' as const), scopes: fc.integer({ min: 1, max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('handover' as const), read: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('emergency' as const), deny: fc.nat(2) }) },
);

/** Builds a log from actions through the real writer; refused actions (NOT_AUTHORIZED) are skipped. */
async function build(actions: readonly Action[]): Promise<{ main: Replica; entries: SignedEntry[] }> {
  const main = await newVault(phone);
  let ts = T0;
  const tick = (): { ts: number } => ({ ts: (ts += HOUR) });
  await main.writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, tick());
  const delegation = await main.writer.append(phone, 'delegate', { delegate: guardian.did, role: 'guardian', expires: T0 + 40 * DAY, scopes: [], wait: null, keys: [] }, tick());
  const contact = await main.writer.append(phone, 'delegate', { delegate: friend.did, role: 'emergency', expires: null, scopes: ['labs'], wait: 5 * HOUR, keys: [] }, tick());
  const grants: { id: EntryId; grantee: Identity }[] = [];
  let branch: Replica | null = null;
  const actors = [phone, laptop, guardian];
  for (const [i, a] of actions.entries()) {
    // While a branch exists, actions alternate between it and the main copy: concurrent writers.
    const target: Replica = branch !== null && i % 2 === 0 ? branch : main;
    try {
      switch (a.kind) {
        case 'grant': {
          const scopes = (['imaging', 'labs', 'summary'] as const).filter((_, i) => (a.scopes >> i) & 1);
          const grantee = providers[a.to]!;
          const entry = await target.writer.append(actors[a.by]!, 'grant', { grantee: grantee.did, scopes, actions: ['read'], purpose: 'treatment', expires: a.expires === null ? null : T0 + a.expires * DAY, keys: [] }, tick());
          grants.push({ id: entry.id, grantee });
          break;
        }
        case 'revoke': {
          if (grants.length === 0) break;
          const g = grants[a.pick % grants.length]!;
          if (!target.log.has(g.id)) break;
          await target.writer.append(a.by === 3 ? g.grantee : actors[a.by]!, 'revoke', { grant: g.id, reason: null }, tick());
          break;
        }
        case 'access': {
          if (grants.length === 0) break;
          const g = grants[a.pick % grants.length]!;
          if (!target.log.has(g.id)) break;
          await target.writer.append(g.grantee, 'access', { grant: g.id, scope: 'summary', heads: [] }, tick()).catch(() => undefined);
          break;
        }
        case 'branch':
          branch ??= await replicaOf(main.log);
          break;
        case 'merge':
          if (branch !== null) {
            await merge(main.log, branch.log);
            branch = null;
          }
          break;
        case 'removeLaptop':
          await target.writer.append(phone, 'device.remove', { device: laptop.did }, tick());
          break;
        case 'undelegate':
          await target.writer.append(phone, 'undelegate', { delegation: delegation.id, delegate: guardian.did }, tick());
          break;
        case 'race': {
          // The laptop (or the guardian) grants on its own copy while the phone removes it.
          const other = await replicaOf(target.log);
          const actor = a.who === 0 ? laptop : guardian;
          const grant = await other.writer.append(actor, 'grant', { grantee: providers[2]!.did, scopes: ['summary'], actions: ['read'], purpose: 'treatment', expires: null, keys: [] }, tick());
          grants.push({ id: grant.id, grantee: providers[2]! });
          if (a.who === 0) await target.writer.append(phone, 'device.remove', { device: laptop.did }, tick());
          else await target.writer.append(phone, 'undelegate', { delegation: delegation.id, delegate: guardian.did }, tick());
          await merge(target.log, other.log);
          break;
        }
        case 'protect': {
          const scopes = (['imaging', 'labs', 'summary'] as const).filter((_, i) => (a.scopes >> i) & 1);
          await target.writer.append(phone, 'protect', { scopes: [...scopes], from: ts + 3 * HOUR }, tick());
          break;
        }
        case 'handover':
          await target.writer.append(guardian, 'handover', { subject: heir.did, devices: [heir.did], guardians: a.read ? 'read' : 'end' }, tick());
          break;
        case 'emergency': {
          // A request, then (deny 0) no denial, (1) a denial in time, (2) a denial after the wait.
          const request = await target.writer.append(friend, 'emergency.request', { delegation: contact.id, reason: null }, tick());
          if (a.deny === 1) await target.writer.append(phone, 'emergency.deny', { request: request.id, reason: null }, tick());
          if (a.deny === 2) await target.writer.append(phone, 'emergency.deny', { request: request.id, reason: null }, { ts: (ts += 6 * HOUR) });
          break;
        }
        case 'equivocate': {
          const twin = await replicaOf(target.log);
          await target.writer.append(laptop, 'grant', { grantee: providers[0]!.did, scopes: ['labs'], actions: ['read'], purpose: 'treatment', expires: null, keys: [] }, tick());
          await twin.writer.append(laptop, 'grant', { grantee: providers[1]!.did, scopes: ['labs'], actions: ['read'], purpose: 'treatment', expires: null, keys: [] }, tick());
          await merge(target.log, twin.log);
          break;
        }
      }
    } catch (error) {
      if (!(error instanceof GrantsError && error.code === 'NOT_AUTHORIZED')) throw error;
    }
  }
  if (branch !== null) await merge(main.log, branch.log);
  return { main, entries: main.log.entries() };
}

/** A permutation of `items` by sort keys. */
function permute<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items.map((item, i) => [item, keys[i % keys.length]! * 7919 + i] as const).sort((a, b) => a[1] - b[1]).map(([item]) => item);
}

const logs = fc.array(action, { minLength: 3, maxLength: 18 });

describe('properties of verification', () => {
  it('the verdict is independent of arrival order (one batch, or many batches through a LogVerifier)', async () => {
    const seen = { equivocation: 0, superseded: 0, liveGrants: 0, invalid: 0 };
    await fc.assert(
      fc.asyncProperty(logs, fc.array(fc.nat(1000), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 7 }), async (actions, keys, batch) => {
        const { entries } = await build(actions);
        const reference = await verify(entries, { now: NOW });
        const shuffled = permute(entries, keys);
        expect(await verify(shuffled, { now: NOW })).toEqual(reference);
        const incremental = new LogVerifier({ vault: reference.vault });
        for (let i = 0; i < shuffled.length; i += batch) await incremental.add(shuffled.slice(i, i + batch));
        // The tree head is that of this copy's own log order; everything else must agree.
        const { tree: _a, ...got } = incremental.verdict(NOW);
        const { tree: _b, ...want } = reference;
        expect(got).toEqual(want);
        if (reference.equivocations.length > 0) seen.equivocation++;
        if (entries.some((e) => incremental.statusOf(entryIdOf(e.header, e.signature)) === 'superseded')) seen.superseded++;
        if (reference.grants.length > 0) seen.liveGrants++;
        if (!reference.valid) seen.invalid++;
      }),
      { numRuns: 60 },
    );
    // The generator reaches the interesting cases (concurrent removals, forks), not only easy logs.
    expect(seen.equivocation).toBeGreaterThan(0);
    expect(seen.superseded).toBeGreaterThan(0);
    expect(seen.liveGrants).toBeGreaterThan(0);
  }, 300_000);

  it('a valid log stays valid (and gives the same verdict) after export and re-import', async () => {
    await fc.assert(
      fc.asyncProperty(logs, fc.nat(2), async (actions, who) => {
        const { main } = await build(actions);
        const before = main.log.verdict(NOW);
        const file = await exportLog(main.log, { now: NOW, signer: phone });
        const { verdict } = await verifyLogFile(decodeLogFile(encodeLogFile(file)), { now: NOW });
        expect(verdict.valid).toBe(before.valid);
        expect({ ...verdict, forks: [] }).toEqual({ ...before, forks: [] });
        // A provider's view (bodies withheld) of a valid log is valid too.
        if (before.valid) {
          const view = await exportLog(main.log, { now: NOW, for: providers[who]!.did, signer: phone });
          const provider = await verifyLogFile(decodeLogFile(encodeLogFile(view)), { now: NOW });
          expect(provider.verdict.problems).toEqual([]);
          expect(provider.verdict.grants.every((g) => g.grantee === providers[who]!.did)).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  }, 300_000);

  it('any single-byte change to an exported log is rejected', async () => {
    const { main } = await build([
      { kind: 'grant', by: 0, to: 0, scopes: 3, expires: null },
      { kind: 'branch' },
      { kind: 'grant', by: 2, to: 1, scopes: 4, expires: 30 },
      { kind: 'merge' },
      { kind: 'access', pick: 0 },
      { kind: 'revoke', by: 1, pick: 1 },
    ]);
    const bytes = encodeLogFile(await exportLog(main.log, { now: NOW, signer: phone }));
    expect((await verifyLogFile(decodeLogFile(bytes), { now: NOW })).verdict.valid).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), async (index, delta) => {
        const changed = new Uint8Array(bytes);
        changed[index] = (changed[index]! + delta) & 255;
        let file;
        try {
          file = decodeLogFile(changed);
        } catch (error) {
          expect(error).toBeInstanceOf(GrantsError);
          return;
        }
        const { verdict } = await verifyLogFile(file, { now: NOW });
        expect(verdict.valid).toBe(false);
      }),
      { numRuns: 400 },
    );
  }, 300_000);
});
