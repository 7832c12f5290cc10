import * as Automerge from '@automerge/automerge';
import { multiaddr } from '@multiformats/multiaddr';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DocSync, DocumentHandle, MailboxClient, slotDocName } from '../../../src/sync/index.js';
import { startPeers, stopPeers, type TestPeer } from '../../../src/sync/testkit.js';
import { main } from '../main.js';

const PVAULT = join(import.meta.dirname, '..', '..', 'pvault.js');

/** Starts `pvault relay` and resolves with the process and the addresses it printed. */
function startRelayProcess(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; addresses: string[] }> {
  const child = spawn(process.execPath, [PVAULT, 'relay', '--host', '127.0.0.1', ...args]);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('mailbox ')) resolve({ child, addresses: out.split('\n').filter((l) => l.startsWith('/')) });
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
    setTimeout(() => reject(new Error('relay did not start')), 20_000);
  });
}

function stop(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

function collect() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) }, out, err };
}

describe('pvault relay', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('refuses a bad port or host with exit code 2', async () => {
    for (const argv of [['--port', 'abc'], ['--port', '70000'], ['--host', 'example.org'], ['--nope'], ['--slot-mb', '0'], ['--quota-mb', '1.5'], ['--quota-mb', '-3']]) {
      const { io, err } = collect();
      expect(await main(['relay', ...argv], io)).toBe(2);
      expect(err.join('')).toMatch(/relay/);
    }
  });

  it('says which address it cannot listen on, and why, with exit code 1 (not a stack trace)', async () => {
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    cleanup.push(() => new Promise((done) => taken.close(done)));
    const port = (taken.address() as AddressInfo).port;
    const { io, err } = collect();
    expect(await main(['relay', '--port', String(port), '--host', '127.0.0.1'], io)).toBe(1);
    expect(err.join('\n')).toMatch(new RegExp(`^pvault relay: cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${port}/ws \\(the address is already in use \\(EADDRINUSE\\)\\).* \\[LISTEN_FAILED\\]$`));
  });

  it('prints its addresses, keeps deposits and its identity in --data across a restart', async () => {
    const data = await mkdtemp(join(tmpdir(), 'pvault-relay-'));
    cleanup.push(() => rm(data, { recursive: true, force: true }));
    const peers = await startPeers(2);
    cleanup.push(() => stopPeers(peers));
    const [patient, provider] = peers as [TestPeer, TestPeer];

    const first = await startRelayProcess(['--data', data]);
    expect(first.addresses.some((a) => a.includes('/ws/p2p/'))).toBe(true);
    const tcp = first.addresses.find((a) => !a.includes('/ws'))!;
    const slot = slotDocName({ depositor: patient.identity.did, recipient: provider.identity.did, name: 'summary' });
    const scope = new DocumentHandle(Automerge.from({ items: { a: new Uint8Array([1, 2, 3]) } }));
    const deposit = await new DocSync({ host: patient.node }, { authorize: () => false, resolve: () => undefined }).sync(multiaddr(tcp), { vault: 'vault-1', doc: slot, target: scope });
    await deposit.synced();
    await deposit.closed();
    expect(await stop(first.child)).toBe(0);

    const second = await startRelayProcess(['--data', data]);
    cleanup.push(() => stop(second.child));
    const id = (a: string) => a.split('/p2p/')[1];
    expect(second.addresses.map(id)).toContain(id(tcp));
    const tcp2 = second.addresses.find((a) => !a.includes('/ws'))!;
    const listed = await new MailboxClient({ host: provider.node }).list(multiaddr(tcp2));
    expect(listed.map((s) => s.doc)).toEqual([slot]);
  });

  it('refuses a deposit larger than --slot-mb as it arrives, and keeps serving', async () => {
    const peers = await startPeers(2);
    cleanup.push(() => stopPeers(peers));
    const [patient, provider] = peers as [TestPeer, TestPeer];
    const relay = await startRelayProcess(['--slot-mb', '1']);
    cleanup.push(() => stop(relay.child));
    const tcp = multiaddr(relay.addresses.find((a) => !a.includes('/ws')));
    const client = new DocSync({ host: patient.node }, { authorize: () => false, resolve: () => undefined });
    const big: Record<string, Uint8Array> = {};
    for (let i = 0; i < 40; i++) big[`r${i}`] = crypto.getRandomValues(new Uint8Array(50_000));
    const slot = slotDocName({ depositor: patient.identity.did, recipient: provider.identity.did, name: 'labs' });
    const refused = await client.sync(tcp, { vault: 'vault-1', doc: slot, target: new DocumentHandle(Automerge.from({ items: big })) });
    await expect(refused.synced()).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    const small = await client.sync(tcp, { vault: 'vault-1', doc: slot, target: new DocumentHandle(Automerge.from({ items: { a: new Uint8Array([1]) } })) });
    await small.synced();
  });
});
