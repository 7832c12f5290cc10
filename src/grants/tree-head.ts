import {
  concatBytes,
  decodeCanonical,
  encodeCanonical,
  equalBytes,
  publicKeyFromDid,
  sign,
  toBase64Url,
  utf8,
  verifyBatch,
  type Did,
  type Digest,
  type Identity,
} from '../crypto/index.js';
import { LOG_VERSION, TREE_HEAD_SIGNING_CONTEXT } from './constants.js';
import { GrantsError } from './errors.js';
import type { VaultId } from './types.js';
import { Invalid, didField, exactObject, idBytes, idField, intField, plainBytes } from './validate.js';

/**
 * Signed tree heads (RFC 9162 §4.10 in spirit): a party signs "my copy of vault V, in my log order,
 * has `size` entries whose Merkle root is `root`". Two heads of one signer with the same size and
 * different roots are a fork: the signer showed two histories.
 */
export interface TreeHead {
  readonly v: 1;
  readonly vault: VaultId;
  readonly size: number;
  readonly root: Digest;
  readonly ts: number;
  readonly signer: Did;
}

/** A tree head as it travels: its canonical bytes and the signer's signature. */
export interface SignedTreeHead {
  readonly head: Uint8Array;
  readonly signature: Uint8Array;
}

/** Two heads of one signer for the same vault and size with different roots: proof of a fork. */
export interface ForkProof {
  readonly signer: Did;
  readonly vault: VaultId;
  readonly size: number;
  readonly heads: readonly [SignedTreeHead, SignedTreeHead];
}

const CONTEXT = utf8(TREE_HEAD_SIGNING_CONTEXT);
const KEYS = ['v', 'vault', 'size', 'root', 'ts', 'signer'] as const;
/** Canonical tree heads are ~180 bytes. */
const MAX_TREE_HEAD_BYTES = 1024;

function signingMessage(head: Uint8Array): Uint8Array {
  return concatBytes(CONTEXT, head);
}

/** Signs a tree head as `identity`. */
export async function signTreeHead(identity: Identity, fields: { vault: VaultId; size: number; root: Digest; ts: number }): Promise<SignedTreeHead> {
  const head = plainBytes(encodeCanonical({ v: LOG_VERSION, vault: idBytes(fields.vault), size: fields.size, root: fields.root, ts: fields.ts, signer: identity.did }));
  decodeTreeHead({ head, signature: new Uint8Array(64) }); // refuse to sign what a verifier would refuse
  return { head, signature: await sign(identity, signingMessage(head)) };
}

/** Decodes a tree head's bytes (without checking the signature). Throws GrantsError BAD_TREE_HEAD. */
export function decodeTreeHead(signed: SignedTreeHead): TreeHead {
  try {
    if (!(signed.head instanceof Uint8Array) || signed.head.length > MAX_TREE_HEAD_BYTES) throw new Invalid('tree head is not 1..1024 bytes');
    if (!(signed.signature instanceof Uint8Array) || signed.signature.length !== 64) throw new Invalid('signature is not 64 bytes');
    const value = decodeCanonical(signed.head, MAX_TREE_HEAD_BYTES);
    if (typeof value === 'object' && value !== null && (value as Record<string, unknown>).v !== LOG_VERSION) {
      throw new GrantsError('UNSUPPORTED_VERSION', `tree head version is not ${LOG_VERSION}`);
    }
    const r = exactObject(value, KEYS, 'tree head');
    if (!(r.root instanceof Uint8Array) || r.root.length !== 32) throw new Invalid('root is not 32 bytes');
    return {
      v: LOG_VERSION,
      vault: idField(r.vault, 'vault') as string as VaultId,
      size: intField(r.size, 'size', 0, Number.MAX_SAFE_INTEGER),
      root: r.root as Digest,
      ts: intField(r.ts, 'ts', 0, Number.MAX_SAFE_INTEGER),
      signer: didField(r.signer, 'signer'),
    };
  } catch (cause) {
    if (cause instanceof GrantsError) throw cause;
    const detail = cause instanceof Error ? cause.message : 'undecodable';
    throw new GrantsError('BAD_TREE_HEAD', `tree head cannot be read: ${detail}`, { cause });
  }
}

/**
 * Decodes and checks the signatures of many tree heads (batched through WebCrypto). Each result is
 * the head, or the GrantsError (BAD_TREE_HEAD / UNSUPPORTED_VERSION) saying why not.
 */
export async function verifyTreeHeads(signed: readonly SignedTreeHead[]): Promise<(TreeHead | GrantsError)[]> {
  const decoded = signed.map((s) => {
    try {
      return decodeTreeHead(s);
    } catch (error) {
      if (error instanceof GrantsError) return error;
      throw error;
    }
  });
  const checks = decoded.map((d, i) => (d instanceof GrantsError ? null : { publicKey: publicKeyFromDid(d.signer), message: signingMessage(signed[i]!.head), signature: signed[i]!.signature }));
  const items = checks.filter((c) => c !== null);
  const results = await verifyBatch(items);
  let next = 0;
  return decoded.map((d) => {
    if (d instanceof GrantsError) return d;
    return results[next++] === true ? d : new GrantsError('BAD_TREE_HEAD', `tree head of size ${d.size} has a bad signature`);
  });
}

/** Decodes and checks one tree head; throws GrantsError BAD_TREE_HEAD on a bad signature. */
export async function verifyTreeHead(signed: SignedTreeHead): Promise<TreeHead> {
  const [result] = await verifyTreeHeads([signed]);
  if (result instanceof GrantsError) throw result;
  return result!;
}

/** Every fork among verified heads: same signer, vault and size, different roots (each pair once). */
export function findForks(heads: readonly { head: TreeHead; signed: SignedTreeHead }[]): ForkProof[] {
  const bySlot = new Map<string, { head: TreeHead; signed: SignedTreeHead }[]>();
  for (const h of heads) {
    const slot = `${h.head.signer} ${h.head.vault} ${h.head.size}`;
    const list = bySlot.get(slot) ?? [];
    if (!list.some((other) => equalBytes(other.head.root, h.head.root))) list.push(h);
    bySlot.set(slot, list);
  }
  const forks: ForkProof[] = [];
  for (const list of bySlot.values()) {
    // Sort by root so the proof is the same whatever order the heads came in.
    list.sort((a, b) => (toBase64Url(a.head.root) < toBase64Url(b.head.root) ? -1 : 1));
    for (let i = 1; i < list.length; i++) {
      const first = list[0]!;
      const other = list[i]!;
      forks.push({ signer: first.head.signer, vault: first.head.vault, size: first.head.size, heads: [first.signed, other.signed] });
    }
  }
  return forks;
}
