/**
 * What `pvault relay` and `pvault node` say when libp2p cannot open a listener or reach the
 * relay: one line with the address, the system's reason and a code (exit 1), instead of
 * libp2p's stack trace. libp2p stops whatever it had started before it throws.
 */

/** libp2p's error when a listen address fails: "<address>: Error: <reason>" a line per address. */
const LISTEN_ERROR = 'UnsupportedListenAddressesError';

/**
 * The message for a failed listen (`[LISTEN_FAILED]`, or `[RELAY_UNREACHABLE]` when the failing
 * address is a circuit through a relay), or undefined when `error` is something else.
 */
export function listenFailure(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== LISTEN_ERROR) return undefined;
  const failed = [...error.message.matchAll(/^\s*(\/\S+): (?:\w*Error: )?(.*)$/gm)].map(([, address, reason]) => ({
    address: address!,
    reason: systemReason(reason!),
  }));
  if (failed.length === 0) return `cannot listen: ${systemReason(error.message)} [LISTEN_FAILED]`;
  const circuit = failed.find((f) => f.address.endsWith('/p2p-circuit'));
  if (circuit) return `cannot reach the relay ${circuit.address.slice(0, -'/p2p-circuit'.length)}: ${circuit.reason} [RELAY_UNREACHABLE]`;
  return `cannot listen on ${failed.map((f) => `${f.address} (${f.reason})`).join(', ')} [LISTEN_FAILED]`;
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EADDRNOTAVAIL: 'this machine has no such address',
  EACCES: 'not permitted (ports below 1024 need privileges)',
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
};

/** "listen EADDRINUSE: address already in use 127.0.0.1:9090" → "the address is already in use (EADDRINUSE)". */
function systemReason(text: string): string {
  const code = /\b(E[A-Z]{4,})\b/.exec(text)?.[1];
  if (code === undefined) return 'failed';
  return `${REASONS[code] ?? 'failed'} (${code})`;
}
