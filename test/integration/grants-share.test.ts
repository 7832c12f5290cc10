import { describe, expect, it } from 'vitest';
import { generateIdentity, generateKey, open, seal, utf8, fromUtf8, type Identity } from '../../src/crypto/index.js';
import {
  LogVerifier,
  LogWriter,
  decodeTreeHead,
  signTreeHead,
  verifyConsistency,
  verifyTreeHead,
  decodeLogFile,
  encodeLogFile,
  exportLog,
  openScopeKey,
  sealScopeKey,
  verifyLogFile,
  type GrantBody,
} from '../../src/grants/index.js';

/**
 * A patient shares two scopes with a clinic through the grant log, across src/crypto and
 * src/grants: the clinic receives only what concerns it, verifies it, opens the scope keys sealed
 * to it and decrypts a synthetic record; after a revocation and a key rotation, the sync gate
 * refuses it and the new key epoch was never sealed to it.
 */

const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 5, 1);

describe('sharing scopes through the grant log', () => {
  it('a clinic verifies its share, opens its keys, and loses access after revocation', async () => {
    const phone = generateIdentity();
    const clinic = generateIdentity();
    const lab = generateIdentity();
    const subject = generateIdentity();
    const { writer, vault } = await LogWriter.createVault(phone, { subject: subject.did, devices: [phone.did], delegates: [], label: null }, T0);
    const labsKey = generateKey();
    const summaryKey = generateKey();
    const grantTo = async (who: Identity, ts: number) => {
      const body: GrantBody = {
        grantee: who.did,
        scopes: ['labs', 'summary'],
        actions: ['read'],
        purpose: 'treatment',
        expires: T0 + 30 * 24 * HOUR,
        keys: [await sealScopeKey(who.did, vault, 'labs', 0, labsKey), await sealScopeKey(who.did, vault, 'summary', 0, summaryKey)],
      };
      return writer.append(phone, 'grant', body, { ts });
    };
    const clinicGrant = await grantTo(clinic, T0 + HOUR);
    const labGrant = await grantTo(lab, T0 + 2 * HOUR);
    const record = await seal(labsKey, utf8('{"resourceType":"Observation","status":"final"}'), utf8(`${vault}/labs/obs-1`));

    // What the clinic receives: every header, only the bodies that concern it.
    const file = decodeLogFile(encodeLogFile(await exportLog(writer.log, { now: T0 + 3 * HOUR, for: clinic.did, signer: phone })));
    expect(file.entries.filter((e) => e.body === undefined).length).toBeGreaterThan(0);
    const { verdict, log: clinicCopy } = await verifyLogFile(file, { now: T0 + 3 * HOUR });
    expect(verdict.valid).toBe(true);
    expect(verdict.grants.map((g) => g.entry)).toEqual([clinicGrant.id]);
    expect(clinicCopy.entry(labGrant.id)?.body).toBeUndefined();

    // It opens its scope key and reads the record; the lab's box is not in its copy at all.
    const grant = clinicCopy.entry(clinicGrant.id)!.body as GrantBody;
    const key = await openScopeKey(clinic, vault, grant.keys.find((k) => k.scope === 'labs')!);
    expect(fromUtf8(await open(key, record, utf8(`${vault}/labs/obs-1`)))).toContain('Observation');
    await expect(openScopeKey(lab, vault, grant.keys[0]!)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });

    // The sync gate on the patient's side.
    expect(writer.log.entitlement(clinic.did, 'labs', T0 + 3 * HOUR)).toMatchObject({ entitled: true, as: 'grant', entry: clinicGrant.id });
    expect(writer.log.entitlement(clinic.did, 'mental-health', T0 + 3 * HOUR).entitled).toBe(false);

    // Revocation, then rotation: the new epoch is sealed to the lab only.
    await writer.append(phone, 'revoke', { grant: clinicGrant.id, reason: null }, { ts: T0 + 4 * HOUR });
    const newLabsKey = generateKey();
    await writer.append(phone, 'rekey', { grant: labGrant.id, keys: [await sealScopeKey(lab.did, vault, 'labs', 1, newLabsKey)] }, { ts: T0 + 5 * HOUR });
    expect(writer.log.entitlement(clinic.did, 'labs', T0 + 6 * HOUR).entitled).toBe(false);
    expect(writer.log.entitlement(lab.did, 'labs', T0 + 6 * HOUR).entitled).toBe(true);

    // The clinic's next sync brings the revocation (it is entitled to it) but not the rekey body.
    const update = await exportLog(writer.log, { now: T0 + 6 * HOUR, for: clinic.did });
    const result = await clinicCopy.add(update.entries);
    expect(result.rejected).toEqual([]);
    const after = clinicCopy.verdict(T0 + 6 * HOUR);
    expect(after.valid).toBe(true);
    expect(after.grants).toEqual([]);
    const rekey = writer.log.entries().at(-1)!;
    expect(update.entries.at(-1)!.body).toBeUndefined();
    expect(rekey.body).toBeDefined();

    // The clinic kept the patient's signed tree head from the first file; the patient's newer head
    // and a consistency proof show that the new log extends it, without the clinic recomputing it.
    const old = decodeTreeHead(file.treeHeads[0]!);
    const newer = await verifyTreeHead(await signTreeHead(phone, { vault, ...writer.log.treeHead(), ts: T0 + 6 * HOUR }));
    const proof = writer.log.consistencyProof(old.size, newer.size);
    expect(verifyConsistency(old.size, newer.size, proof, old.root, newer.root)).toBe(true);
    // A patient that rewrote history (a copy without the revocation) cannot produce such a proof.
    const rewritten = new LogVerifier({ vault });
    await rewritten.add(writer.log.entries().slice(0, old.size));
    expect(verifyConsistency(old.size, newer.size, proof, old.root, rewritten.treeHead().root)).toBe(false);
  });
});
