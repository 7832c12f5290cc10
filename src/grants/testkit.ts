import { identityFromSecretKey, sha256, utf8, type Identity } from '../crypto/index.js';
import { encodeBody } from './bodies.js';
import { MAX_DEPS } from './constants.js';
import { signEntry, sortIds } from './entry.js';
import { LogVerifier } from './log-verifier.js';
import type { BodyOf, EntryId, EntryType, GenesisBody, VaultId } from './types.js';
import { LogWriter, type WrittenEntry } from './writer.js';

/**
 * Helpers for the grant log's tests (not part of the layer's public face): named synthetic
 * parties, replicas of one vault, and a way to sign entries the writer would refuse to write.
 */

/** 2025-01-01T00:00:00Z: the tests' epoch. */
export const T0 = Date.UTC(2025, 0, 1);
export const HOUR = 60 * 60 * 1000;
export const DAY = 24 * HOUR;

/** A synthetic party whose key is derived from its name (test data only). */
export function party(name: string): Identity {
  return identityFromSecretKey(sha256(utf8(`grants-test/${name}`)));
}

/** One party's copy of a vault's log, and a writer over it. */
export interface Replica {
  readonly log: LogVerifier;
  readonly writer: LogWriter;
}

/** A new vault whose genesis `author` signs at `ts` (default: subject = a party named "subject", devices = [author]). */
export async function newVault(author: Identity, options: { ts?: number; body?: Partial<GenesisBody> } = {}): Promise<Replica & { vault: VaultId; genesis: WrittenEntry }> {
  const body: GenesisBody = { subject: party('subject').did, devices: [author.did], delegates: [], label: null, ...options.body };
  const { writer, vault, genesis } = await LogWriter.createVault(author, body, options.ts ?? T0);
  return { log: writer.log, writer, vault, genesis };
}

/** Another party's copy of `from` (everything `from` holds). */
export async function replicaOf(from: LogVerifier): Promise<Replica> {
  const log = new LogVerifier({ vault: from.vault });
  await log.add(from.entries());
  return { log, writer: new LogWriter(log) };
}

/** Brings `into` up to date with everything `from` holds. */
export async function merge(into: LogVerifier, from: LogVerifier): Promise<void> {
  const result = await into.add(from.entries());
  if (result.rejected.length > 0) throw new Error(`merge refused entries: ${result.rejected.map((p) => p.code).join(', ')}`);
}

/**
 * Signs an entry as `identity` on top of `log`'s current state WITHOUT the writer's authority
 * check (what a misbehaving or compromised author could do), and adds it to `log`.
 * Fields can be overridden to build broken entries.
 */
export async function forge<T extends EntryType>(
  log: LogVerifier,
  identity: Identity,
  type: T,
  body: BodyOf[T],
  options: { ts: number; seq?: number; prev?: EntryId | null; deps?: EntryId[]; add?: boolean },
): Promise<WrittenEntry> {
  const head = log.authorHead(identity.did);
  const others = log.headEntries().filter((h) => h.author !== identity.did && h.id !== head?.id);
  const deps = options.deps ?? sortIds(others.sort((a, b) => b.ts - a.ts).slice(0, MAX_DEPS).map((h) => h.id));
  const entry = await signEntry(
    identity,
    {
      vault: log.vault,
      author: identity.did,
      seq: options.seq ?? (head === null ? 0 : head.seq + 1),
      prev: options.prev === undefined ? (head?.id ?? null) : options.prev,
      deps,
      ts: options.ts,
      type,
    },
    encodeBody(type, body),
  );
  if (options.add !== false) await log.add([entry]);
  return entry;
}
