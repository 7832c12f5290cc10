import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, startPeers, stopPeers, type TestPeer } from '../testkit.js';
import { newInvitation, type Invitation } from './invitation.js';
import { MemoryInvitationBook } from './invitation-book.js';
import { InviteService } from './invite-service.js';
import type { ShareRequest } from './messages.js';
import { RequestQueue, type PendingRequest } from './request-queue.js';

const REQUEST: ShareRequest = { name: 'Example Clinic', scopes: ['summary', 'labs'], purpose: 'treatment', days: 30 };

describe('/patient-vault/invite/1.0.0 over real libp2p', () => {
  let peers: TestPeer[];
  let patient: TestPeer;
  let provider: TestPeer;
  let book: MemoryInvitationBook;
  let queue: RequestQueue;
  let clock: number;
  let server: InviteService;
  let client: InviteService;
  let arrived: PendingRequest[];

  beforeEach(async () => {
    peers = await startPeers(2);
    [patient, provider] = peers as [TestPeer, TestPeer];
    book = new MemoryInvitationBook();
    queue = new RequestQueue();
    clock = 1_700_000_000_000;
    arrived = [];
    queue.addEventListener('request', (e) => arrived.push((e as CustomEvent<PendingRequest>).detail));
    server = new InviteService({ host: patient.node, bans: patient.bans }, { book, queue, now: () => clock });
    await server.start();
    client = new InviteService({ host: provider.node }, { now: () => clock });
  });

  afterEach(async () => {
    await stopPeers(peers);
  });

  function invite(ttlMs = 60_000): Invitation {
    const direct = patient.node.getMultiaddrs()[0]!.toString();
    const invitation = newInvitation(patient.identity.did, direct, { now: clock, ttlMs });
    book.add(invitation);
    return invitation;
  }

  it('queues the request for the patient and answers with the approval', async () => {
    const invitation = invite();
    const redeeming = client.redeem(invitation, REQUEST);
    await eventually(() => arrived.length === 1, 5_000, 'request queued');
    expect(arrived[0]).toMatchObject({ from: provider.identity.did, request: REQUEST });
    expect(queue.pending()).toHaveLength(1);
    queue.approve(arrived[0]!.id, { vault: 'vault-1', grant: 'g'.repeat(43), scopes: ['summary', 'labs'], expires: clock + 30 * 86_400_000 });
    const result = await redeeming;
    expect(result).toMatchObject({ patient: patient.identity.did, requestId: arrived[0]!.id, approval: { vault: 'vault-1', scopes: ['summary', 'labs'] } });
    expect(queue.pending()).toHaveLength(0);
  });

  it('refuses a token the second time, whether or not the first was approved', async () => {
    const invitation = invite();
    const first = client.redeem(invitation, REQUEST);
    await eventually(() => arrived.length === 1);
    queue.deny(arrived[0]!.id);
    await expect(first).rejects.toMatchObject({ code: 'DENIED' });
    await expect(client.redeem(invitation, REQUEST)).rejects.toMatchObject({ code: 'TOKEN_USED' });
    expect(arrived).toHaveLength(1);
  });

  it('refuses an expired token (patient clock) and one it never issued', async () => {
    const invitation = invite(1_000);
    clock += 2_000;
    // The redeemer's own clock check is skipped by pretending the invitation lives longer.
    await expect(client.redeem({ ...invitation, expires: clock + 10_000 }, REQUEST)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    await expect(client.redeem({ ...invitation, token: new Uint8Array(16).fill(7), expires: clock + 10_000 }, REQUEST)).rejects.toMatchObject({ code: 'UNKNOWN_TOKEN' });
    await expect(client.redeem(invitation, REQUEST)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    expect(arrived).toHaveLength(0);
  });

  it('bans a peer that keeps presenting bad tokens', async () => {
    const invitation = invite();
    for (let i = 0; i < 5; i++) {
      await expect(client.redeem({ ...invitation, token: new Uint8Array(16).fill(i) }, REQUEST)).rejects.toMatchObject({ code: 'UNKNOWN_TOKEN' });
    }
    expect(patient.bans.isBanned(provider.node.peerId)).toBe(true);
    await expect(client.redeem(invitation, REQUEST)).rejects.toBeDefined();
    expect(arrived).toHaveLength(0);
  });
});
