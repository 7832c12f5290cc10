/**
 * The scope document the sync sessions share (src/node ScopeTarget) over a real records store: a
 * message applied between a local write and the refresh that hands the write to the sessions.
 */
import * as Automerge from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import type { Did } from '../../src/crypto/index.js';
import { ScopeTarget } from '../../src/node/index.js';
import { lab, newStore } from './records-support.js';

describe('ScopeTarget', () => {
  it('keeps a local write and a received change when the message arrives before the write is refreshed into the sessions', async () => {
    const { store: here } = await newStore();
    await here.importResources([lab('g1', 90, '2024-01-02')]);
    // Another device of the same vault, with a change of its own.
    const { store: there } = await newStore({ vaultId: here.vaultId, scopeKeys: here.scopeNames.map((s) => here.exportScopeKeys(s)) });
    await there.importResources([lab('g3', 70, '2024-03-02')]);

    const target = await ScopeTarget.open(here, 'labs');
    let notified = 0;
    target.subscribe((origin) => {
      if (origin.local) notified++;
    });
    // A local write lands in the store; before refresh() runs, a session applies a message that
    // was merged into the document the sessions still hold (without the write).
    await here.importResources([lab('g2', 80, '2024-02-02')]);
    const received = Automerge.merge(Automerge.clone(target.current()), await there.scopeDoc('labs'));
    target.apply(received, { local: false, remote: 'did:key:z6MkSyntheticRemoteDevice' as Did });
    await target.flush();
    await target.refresh();

    expect(here.list({ scopes: ['labs'] }).map((l) => l.key).sort()).toEqual(['Observation/g1', 'Observation/g2', 'Observation/g3']);
    // The sessions now hold both: what the write stored and what the message brought.
    expect(Automerge.hasHeads(target.current(), Automerge.getHeads(await here.scopeDoc('labs')))).toBe(true);
    expect(notified).toBeGreaterThanOrEqual(1);
  });

});
