import { describe, expect, it } from 'vitest';
import { decodeHeader } from './entry.js';
import { GrantsError } from './errors.js';
import { HOUR, T0, newVault, party } from './testkit.js';
import type { GrantBody } from './types.js';
import { LogWriter, type WrittenEntry } from './writer.js';

const seq = (entry: WrittenEntry): number => decodeHeader(entry.header).seq;

const owner = party('w-owner');
const clinic = (i: number) => party(`w-clinic-${i}`);

describe('LogWriter.append', () => {
  it('signs concurrent appends by one author one after another, so they never equivocate', async () => {
    const { log, writer } = await newVault(owner);
    const written = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        writer.append(owner, 'grant', { grantee: clinic(i).did, scopes: ['summary'], actions: ['read'], purpose: 'treatment', expires: T0 + 30 * 24 * HOUR, keys: [] }, { ts: T0 + HOUR }),
      ),
    );
    expect(written.map(seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(log.problems(T0 + 2 * HOUR)).toEqual([]);
    expect(log.entries()).toHaveLength(9);
  });

  it('serializes appends of two writers over the same copy of the log', async () => {
    const { log, writer } = await newVault(owner);
    const other = new LogWriter(log);
    const body = (i: number): GrantBody => ({ grantee: clinic(i).did, scopes: ['labs'], actions: ['read'], purpose: 'treatment', expires: null, keys: [] });
    const [a, b] = await Promise.all([writer.append(owner, 'grant', body(1), { ts: T0 + HOUR }), other.append(owner, 'grant', body(2), { ts: T0 + HOUR })]);
    expect([seq(a), seq(b)].sort()).toEqual([1, 2]);
    expect(log.problems(T0 + 2 * HOUR)).toEqual([]);
  });

  it('goes on after a refused append: the refusal reaches its caller only', async () => {
    const { log, writer } = await newVault(owner);
    const stranger = party('w-stranger');
    const refused = writer.append(stranger, 'grant', { grantee: clinic(1).did, scopes: ['labs'], actions: ['read'], purpose: 'treatment', expires: null, keys: [] }, { ts: T0 + HOUR });
    const accepted = writer.append(owner, 'grant', { grantee: clinic(2).did, scopes: ['labs'], actions: ['read'], purpose: 'treatment', expires: null, keys: [] }, { ts: T0 + HOUR });
    await expect(refused).rejects.toBeInstanceOf(GrantsError);
    await expect(refused).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(seq(await accepted)).toBe(1);
    expect(log.problems(T0 + 2 * HOUR)).toEqual([]);
  });
});
