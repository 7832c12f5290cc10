/**
 * Helpers for tests of this layer and the integration tests: real libp2p nodes over loopback TCP,
 * each with its own identity. Not used by shipped code.
 */
import { encodeCanonical, generateIdentity, type Identity } from '../crypto/index.js';
import { PeerBans } from './libp2p/bans.js';
import type { SyncLibp2p } from './libp2p/common.js';
import { createNodeLibp2p } from './libp2p/node.js';

/** One test peer: identity, node, bans. */
export interface TestPeer {
  readonly identity: Identity;
  readonly node: SyncLibp2p;
  readonly bans: PeerBans;
}

/** Starts `count` nodes listening on loopback TCP. */
export async function startPeers(count: number): Promise<TestPeer[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const identity = generateIdentity();
      const bans = new PeerBans();
      const node = await createNodeLibp2p({ identity, bans, listen: ['/ip4/127.0.0.1/tcp/0'] });
      return { identity, node, bans };
    }),
  );
}

/** Stops every peer. */
export async function stopPeers(peers: readonly TestPeer[]): Promise<void> {
  await Promise.all(peers.map(async (p) => p.node.stop()));
}

/** Waits until `predicate` holds, polling; throws after `timeoutMs`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A varint (unsigned LEB128) length prefix, as lpStream writes it. */
export function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return new Uint8Array(out);
}

/** One message as a peer sends it on the wire: canonical CBOR behind its varint length prefix. Tests build hostile frames from it. */
export function canonicalFrame(message: object): Uint8Array {
  const body = encodeCanonical(message);
  return new Uint8Array([...varint(body.length), ...body]);
}
