import { resolve } from 'node:path';
import { MemoryStorage, openLevelDbStorage } from '../../../src/store/index.js';
import { startRelay } from '../../../src/sync/index.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_BAD_INPUT, EXIT_OK, UsageError, type Command } from '../io.js';
import { listenFailure } from '../listen.js';

const HELP = `Usage: pvault relay [--port P] [--host H] [--data DIR] [--slot-mb N] [--quota-mb N]

Runs the Patient Vault relay: a circuit-relay-v2 server (browsers reach each other through it;
relayed connections carry real data, without the 128 KiB / 2 min default limits) and a
store-and-forward mailbox that keeps sealed documents and log entries for a party that is offline.
It holds no key: it sees Noise-encrypted streams and merges sealed Automerge documents only.

Options:
  --port P      WebSocket port for browsers; TCP listens on P+1 for Node peers (default 0: free ports)
  --host H      interface to listen on (default 0.0.0.0)
  --data DIR    keep the mailbox and the relay's identity in a LevelDB database here, so both
                survive a restart (default: in memory, gone on exit)
  --slot-mb N   largest document one mailbox slot may hold, in MiB (default 64); a deposit that
                would not fit is refused as it arrives (LIMIT_REACHED), before it is buffered
  --quota-mb N  bytes one depositor may keep here over all its slots, in MiB (default 256)
  -h, --help    show this help

Prints its multiaddrs, one a line, then runs until interrupted (Ctrl-C, SIGTERM).
Exit codes: 0 stopped cleanly, 1 cannot listen or open --data, 2 wrong usage.
`;

/** `pvault relay`: the relay and mailbox, until a signal stops it. */
export const run: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    'slot-mb': { type: 'string' },
    'quota-mb': { type: 'string' },
  });
  if (values.help === true) {
    io.stdout(HELP);
    return EXIT_OK;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_534) throw new UsageError('--port must be an integer from 0 to 65534');
  const host = values.host ?? '0.0.0.0';
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) throw new UsageError('--host must be an IPv4 address');
  const slotMb = mebibytes(values['slot-mb'], '--slot-mb');
  const quotaMb = mebibytes(values['quota-mb'], '--quota-mb');
  const storage = values.data !== undefined ? await openLevelDbStorage(resolve(values.data), { create: true }) : new MemoryStorage();
  let relay;
  try {
    relay = await startRelay({
      storage,
      port,
      host,
      limits: {
        ...(slotMb !== undefined ? { maxSlotBytes: slotMb * MIB } : {}),
        ...(quotaMb !== undefined ? { maxBytesPerDepositor: quotaMb * MIB } : {}),
      },
      onSessionEnd: (end) => {
        if (end.code !== undefined) io.stderr(`mailbox: session ${end.role} ended: ${end.code}`);
      },
    });
  } catch (error) {
    await storage.close();
    const failure = listenFailure(error);
    if (failure === undefined) throw error;
    io.stderr(`pvault relay: ${failure}`);
    return EXIT_BAD_INPUT;
  }
  io.stdout(`pvault relay ${relay.node.peerId.toString()} listening on:`);
  for (const address of relay.multiaddrs()) io.stdout(address);
  io.stdout(values.data !== undefined ? `mailbox kept in ${resolve(values.data)}` : 'mailbox in memory (use --data DIR to keep it)');
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await relay.stop();
  await storage.close();
  io.stdout('relay stopped');
  return EXIT_OK;
};

const MIB = 1024 * 1024;

/** A size flag in MiB: an integer from 1 to 65,536, or undefined when not given. */
function mebibytes(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isInteger(n) || n < 1 || n > 65_536) {
    throw new UsageError(`${flag} must be a whole number of MiB from 1 to 65536`);
  }
  return n;
}
