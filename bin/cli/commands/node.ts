import { multiaddr } from '@multiformats/multiaddr';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Did } from '../../../src/crypto/index.js';
import { encodeLogFile, exportLog, type EntryId, type ScopeName, type VaultId } from '../../../src/grants/index.js';
import { NodeError, SharedVaultFollower, VaultNode, deviceIdentity, prefixedStore } from '../../../src/node/index.js';
import { RecordStore, parseImport } from '../../../src/records/index.js';
import { StoreError, Vault, openLevelDbStorage } from '../../../src/store/index.js';
import { PeerBans, SyncError, createNodeLibp2p, type PendingRequest } from '../../../src/sync/index.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_BAD_INPUT, EXIT_OK, UsageError, type Command } from '../io.js';
import { listenFailure } from '../listen.js';
import { readPassphrase } from '../passphrase.js';

const HELP = `Usage: pvault node --vault DIR [--relay ADDR] [--listen ADDR] [--create] [--control]

Runs a vault engine on this machine: the patient's always-on node or a clinic's headless node. It
serves the doc, log and invite protocols, verifies every log entry it receives, and keeps its
state sealed in the vault at DIR (passphrase from PVAULT_PASSPHRASE or the terminal). Vaults shared
with it are followed live: it reconnects when a connection drops and stops when a grant ends.

Options:
  --vault DIR     the vault directory (created with --create when empty)
  --relay ADDR    a relay multiaddr (TCP, ending in /p2p/<id>): listen through its circuit so
                  peers behind NAT reach this node, and use it for invitations
  --listen ADDR   direct listen address (default /ip4/127.0.0.1/tcp/0)
  --create        create the vault if DIR holds none
  --control       read JSON commands on stdin, one a line, and answer JSON lines on stdout
                  (create-vault, import, invite, approve-next, redeem, pull, records, trail,
                  grants, revoke, export-log, stop); used by 'pvault demo'
  -h, --help      show this help

Runs until interrupted (Ctrl-C, SIGTERM) or, with --control, until stdin closes or 'stop'.
Exit codes: 0 stopped cleanly, 1 the vault cannot be opened or the relay reached, 2 wrong usage.
`;

const IDENTITY_KEY = 'device/identity';

/** One control command: `{ id, cmd, ...args }`. */
type ControlCommand = { id?: unknown; cmd?: unknown } & Record<string, unknown>;

/** `pvault node`: a headless vault engine. */
export const run: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, {
    vault: { type: 'string' },
    relay: { type: 'string' },
    listen: { type: 'string' },
    create: { type: 'boolean' },
    control: { type: 'boolean' },
  });
  if (values.help === true) {
    io.stdout(HELP);
    return EXIT_OK;
  }
  if (values.vault === undefined || values.vault.length === 0) throw new UsageError('--vault DIR is required');
  let relay: ReturnType<typeof multiaddr> | undefined;
  try {
    relay = values.relay === undefined ? undefined : multiaddr(values.relay);
  } catch {
    throw new UsageError('--relay must be a multiaddr');
  }
  if (relay && !relay.toString().includes('/p2p/')) throw new UsageError('--relay must end in /p2p/<relay id>');
  if (values.listen !== undefined) {
    try {
      multiaddr(values.listen);
    } catch {
      throw new UsageError('--listen must be a multiaddr, e.g. /ip4/127.0.0.1/tcp/4001');
    }
  }
  const dir = resolve(values.vault);
  const log = (text: string): void => (values.control === true ? io.stderr(text) : io.stdout(text));

  const storage = await openLevelDbStorage(dir, { create: values.create === true });
  let vaultStore: Vault;
  try {
    const passphrase = await readPassphrase({ prompt: 'Vault passphrase: ' });
    let existing = true;
    try {
      vaultStore = await Vault.open(storage);
    } catch (error) {
      if (!(error instanceof StoreError) || error.code !== 'NOT_A_VAULT' || values.create !== true) throw error;
      existing = false;
      vaultStore = await Vault.create(storage, passphrase);
    }
    if (existing) await vaultStore.unlock(passphrase);
  } catch (error) {
    await storage.close();
    throw error;
  }

  const identity = await deviceIdentity(vaultStore, IDENTITY_KEY);
  const bans = new PeerBans();
  const listen = [values.listen ?? '/ip4/127.0.0.1/tcp/0', ...(relay ? [`${relay.toString()}/p2p-circuit`] : [])];
  let libp2p: Awaited<ReturnType<typeof createNodeLibp2p>> | undefined;
  let node: VaultNode | undefined;
  try {
    libp2p = await createNodeLibp2p({ identity, bans, listen });
    const started: typeof libp2p = libp2p;
    node = await VaultNode.start({
      identity,
      libp2p: started,
      bans,
      store: vaultStore,
      openRecords: async (vault, role, seed) =>
        await RecordStore.open(role === 'own' ? vaultStore : prefixedStore(vaultStore, `shared/${vault}/`), {
          vaultId: vault,
          ...(seed ? { scopeKeys: seed } : {}),
        }),
    });
    if (relay) await waitForCircuit(started, 15_000);
  } catch (error) {
    // Release the listeners and the database, so the process ends with its exit code.
    await node?.stop().catch(() => undefined);
    await Promise.resolve(libp2p?.stop()).catch(() => undefined);
    await storage.close();
    const failure = listenFailure(error);
    if (failure === undefined) throw error;
    io.stderr(`pvault node: ${failure}`);
    return EXIT_BAD_INPUT;
  }
  const addresses = libp2p.getMultiaddrs().map((a) => a.toString());
  log(`pvault node ${identity.did}`);
  log(`peer ${libp2p.peerId.toString()} listening on:`);
  for (const a of addresses) log(a);

  // A clinic's node keeps receiving every vault shared with it, live, across dropped connections.
  const follower = new SharedVaultFollower(node);
  follower.followAll();
  const stop = async () => {
    await follower.close();
    await node.stop();
    await libp2p.stop();
    await storage.close();
  };

  if (values.control !== true) {
    await new Promise<void>((done) => {
      process.once('SIGINT', () => done());
      process.once('SIGTERM', () => done());
    });
    await stop();
    log('node stopped');
    return EXIT_OK;
  }

  const say = (value: unknown) => io.stdout(JSON.stringify(value));
  say({ event: 'ready', did: identity.did, peer: libp2p.peerId.toString(), addresses, vault: node.vault ?? null });
  const requests: PendingRequest[] = [];
  const waiting: ((r: PendingRequest) => void)[] = [];
  node.addEventListener('request', (e) => {
    const request = (e as CustomEvent<PendingRequest>).detail;
    const next = waiting.shift();
    if (next) next(request);
    else requests.push(request);
  });
  const nextRequest = () => new Promise<PendingRequest>((done) => (requests.length > 0 ? done(requests.shift()!) : waiting.push(done)));
  const circuitAddress = () => addresses.find((a) => a.includes('/p2p-circuit')) ?? `${addresses[0]!}`;

  const handlers: Record<string, (c: ControlCommand) => Promise<unknown>> = {
    'create-vault': async (c) => ({ vault: node.vault ?? (await node.createVault(typeof c.label === 'string' ? c.label : null)) }),
    import: async (c) => {
      const file = resolve(String(c.file));
      const parsed = await parseImport(await readFile(file), { now: new Date(), fileName: file });
      const scopes = [...new Set(parsed.resources.map((r) => r.scope))];
      const result = await node.editRecords(scopes, async (records) => (records as unknown as RecordStore).importResources(parsed.resources));
      return { imported: parsed.resources.length, counts: result.counts };
    },
    invite: async (c) => ({ invitation: await node.invite(typeof c.address === 'string' ? c.address : circuitAddress(), { ttlMs: 60 * 60 * 1000 }) }),
    'approve-next': async (c) => {
      const request = await nextRequest();
      const grant = await node.approve(request.id, {
        ...(Array.isArray(c.scopes) ? { scopes: c.scopes as ScopeName[] } : {}),
        ...(typeof c.days === 'number' ? { days: c.days } : {}),
      });
      return { grant, from: request.from, name: request.request.name, asked: request.request.scopes };
    },
    redeem: async (c) => {
      const pulled = await node.redeem(String(c.invitation), {
        name: String(c.name),
        scopes: (c.scopes as string[]) ?? [],
        purpose: 'treatment',
        days: typeof c.days === 'number' ? c.days : 30,
      });
      follower.follow(pulled.vault);
      return { vault: pulled.vault, scopes: pulled.scopes, receipts: pulled.receipts.length };
    },
    pull: async (c) => {
      const pulled = await node.pull(String(c.vault) as VaultId);
      return { scopes: pulled.scopes, receipts: pulled.receipts.length };
    },
    records: async (c) => {
      const records = (typeof c.vault !== 'string' ? await node.ownRecords() : await node.sharedRecords(c.vault as VaultId)) as unknown as RecordStore;
      return { stats: records.stats() };
    },
    trail: () => Promise.resolve({ receipts: node.accessTrail() }),
    grants: () => Promise.resolve({ grants: node.liveGrants() }),
    revoke: async (c) => node.revoke(String(c.grant) as EntryId),
    grant: async (c) => ({
      grant: await node.grant(String(c.grantee) as Did, { scopes: c.scopes as ScopeName[], purpose: 'treatment', expires: Date.now() + (typeof c.days === 'number' ? c.days : 30) * 86_400_000 }),
    }),
    'export-log': async (c) => {
      const vault = String(c.vault) as VaultId;
      // Loaded on demand: a provider's node keeps only recently used shared vaults in memory.
      const copy = await node.loadVault(vault);
      if (!copy) throw new NodeError('NOT_FOUND', 'no log of that vault here');
      const file = await exportLog(copy, { now: Date.now(), signer: identity });
      await writeFile(resolve(String(c.out)), encodeLogFile(file));
      return { entries: file.entries.length, withheld: file.entries.filter((e) => e.body === undefined).length };
    },
    stop: () => Promise.resolve({ stopping: true }),
  };

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim().length === 0) continue;
    let command: ControlCommand;
    try {
      command = JSON.parse(line) as ControlCommand;
    } catch {
      say({ ok: false, error: { code: 'BAD_COMMAND', message: 'not JSON' } });
      continue;
    }
    const handler = typeof command.cmd === 'string' ? handlers[command.cmd] : undefined;
    if (!handler) {
      say({ id: command.id, ok: false, error: { code: 'BAD_COMMAND', message: `unknown command ${String(command.cmd)}` } });
      continue;
    }
    try {
      say({ id: command.id, ok: true, result: await handler(command) });
    } catch (error) {
      const code = error instanceof SyncError || error instanceof NodeError || error instanceof StoreError ? error.code : 'FAILED';
      say({ id: command.id, ok: false, error: { code, message: error instanceof Error ? error.message : 'failed' } });
    }
    if (command.cmd === 'stop') break;
  }
  await stop();
  return EXIT_OK;
};


async function waitForCircuit(libp2p: { getMultiaddrs(): { toString(): string }[] }, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!libp2p.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'))) {
    if (Date.now() > deadline) throw new NodeError('SYNC_FAILED', 'no reservation at the relay in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

