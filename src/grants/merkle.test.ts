import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, sha256, toHex } from '../crypto/index.js';
import { EMPTY_ROOT, MerkleTree, leafHash, merkleRoot, nodeHash, verifyConsistency, verifyInclusion } from './merkle.js';

/** transparency-dev/merkle vectors, copied with their origin note (test/vectors/merkle/ORIGIN.md). */
const VECTORS = join(import.meta.dirname, '../../test/vectors/merkle');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.json') ? [path] : [];
  });
}

/** Go encodes []byte as standard base64 (with padding) and a nil slice as null. */
function b64(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value, 'base64'));
}
function proofOf(value: string[] | null): Uint8Array[] {
  return (value ?? []).map(b64);
}

/** The four probes that test transparency-dev's policy rather than the maths (ORIGIN.md). */
const POLICY_PROBES = [
  'inclusion/single-entry/empty-root-and-leaf.json',
  'consistency/additional/size1-is-zero-and-does-not-equal-size2.json',
  'consistency/additional/size1-is-zero-and-size2-is-not-zero.json',
  'consistency/additional/sizes-are-equal-zero-and-proof-is-empty.json',
];

/** RFC 9162 §2.1.1 MTH, written straight from the definition, as the oracle for the fast tree. */
function referenceRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return sha256(concatBytes(new Uint8Array([0]), leaves[0]!));
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(concatBytes(new Uint8Array([1]), referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k))));
}

describe('Merkle tree hashing (RFC 9162 §2.1.1)', () => {
  const reference = JSON.parse(readFileSync(join(VECTORS, 'reference-tree.json'), 'utf8')) as { leafInputs: string[]; leafHashes: string[]; rootHashes: string[] };

  it('reproduces the reference leaf hashes and the root of every tree size 0–8', () => {
    const leaves = reference.leafInputs.map(fromHex);
    expect(leaves.map((l) => toHex(leafHash(l)))).toEqual(reference.leafHashes);
    const tree = new MerkleTree();
    expect(toHex(tree.root())).toBe(reference.rootHashes[0]);
    expect(toHex(EMPTY_ROOT)).toBe(reference.rootHashes[0]);
    for (const [i, leaf] of leaves.entries()) {
      tree.append(leaf);
      expect(toHex(tree.root())).toBe(reference.rootHashes[i + 1]);
    }
    // Every prefix root stays available after later appends.
    for (let size = 0; size <= leaves.length; size++) expect(toHex(tree.root(size))).toBe(reference.rootHashes[size]);
  });

  it('agrees with the definition for any number of leaves', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 70 }), (leaves) => {
        expect(toHex(merkleRoot(leaves))).toBe(toHex(referenceRoot(leaves)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('transparency-dev/merkle probe vectors', () => {
  const probes = filesUnder(VECTORS)
    .filter((f) => !f.endsWith('reference-tree.json'))
    .map((path) => ({ name: relative(VECTORS, path), data: JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> }));

  it('has all 196 probes', () => {
    expect(probes).toHaveLength(196);
  });

  it('accepts exactly the probes transparency-dev accepts (wantErr false), all 196', () => {
    const disagreements: string[] = [];
    for (const { name, data } of probes) {
      let ok: boolean;
      if (name.startsWith('inclusion/')) {
        ok = verifyInclusion(b64(data.leafHash as string), data.leafIdx as number, data.treeSize as number, proofOf(data.proof as string[] | null), b64(data.root as string));
      } else {
        ok = verifyConsistency(data.size1 as number, data.size2 as number, proofOf(data.proof as string[] | null), b64(data.root1 as string), b64(data.root2 as string));
      }
      if (ok === data.wantErr) disagreements.push(name);
    }
    expect(disagreements).toEqual([]);
  });

  it('rejects the four policy probes for our documented reasons (32-byte hashes, 0 < size1)', () => {
    for (const name of POLICY_PROBES) {
      const probe = probes.find((p) => p.name === name)!;
      expect(probe.data.wantErr).toBe(true);
    }
    // Empty leaf and root: the maths alone would match them (root = leaf for one leaf).
    expect(verifyInclusion(new Uint8Array(0), 0, 1, [], new Uint8Array(0))).toBe(false);
    // From the empty tree: every tree extends it, so the proof proves nothing and is refused.
    expect(verifyConsistency(0, 1, [], EMPTY_ROOT, leafHash(new Uint8Array(0)))).toBe(false);
    expect(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)).toBe(false);
  });
});

describe('proofs from the incremental tree', () => {
  it('every inclusion proof of every leaf in every tree size up to 40 verifies, and fails for any other leaf or index', () => {
    const tree = new MerkleTree();
    const leaves = Array.from({ length: 40 }, (_, i) => sha256(new Uint8Array([i])));
    for (const leaf of leaves) tree.append(leaf);
    for (let size = 1; size <= 40; size++) {
      const root = tree.root(size);
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index, size);
        expect(verifyInclusion(leafHash(leaves[index]!), index, size, proof, root)).toBe(true);
        expect(verifyInclusion(leafHash(leaves[(index + 1) % 40]!), index, size, proof, root)).toBe(false);
        if (size > 1) expect(verifyInclusion(leafHash(leaves[index]!), (index + 1) % size, size, proof, root)).toBe(false);
      }
    }
  });

  it('every consistency proof between sizes up to 40 verifies, and fails against another root', () => {
    const tree = new MerkleTree();
    for (let i = 0; i < 40; i++) tree.append(new Uint8Array([i, i]));
    for (let size2 = 1; size2 <= 40; size2++) {
      for (let size1 = 1; size1 <= size2; size1++) {
        const proof = tree.consistencyProof(size1, size2);
        expect(verifyConsistency(size1, size2, proof, tree.root(size1), tree.root(size2))).toBe(true);
        const wrong = nodeHash(tree.root(size1), tree.root(size1));
        expect(verifyConsistency(size1, size2, proof, wrong, tree.root(size2))).toBe(false);
        expect(verifyConsistency(size1, size2, proof, tree.root(size1), wrong)).toBe(false);
      }
    }
  });

  it('proofs stay O(log n) long on a large tree', () => {
    const tree = new MerkleTree();
    for (let i = 0; i < 10_000; i++) tree.append(new Uint8Array([i & 255, i >> 8]));
    expect(tree.inclusionProof(1234).length).toBeLessThanOrEqual(14);
    expect(tree.consistencyProof(7_777).length).toBeLessThanOrEqual(2 * 14);
    expect(verifyConsistency(7_777, 10_000, tree.consistencyProof(7_777), tree.root(7_777), tree.root())).toBe(true);
  });

  it('refuses proofs the tree cannot give, with typed errors', () => {
    const tree = new MerkleTree();
    tree.append(new Uint8Array([1]));
    expect(() => tree.inclusionProof(1)).toThrow(expect.objectContaining({ code: 'UNKNOWN_ENTRY' }));
    expect(() => tree.root(2)).toThrow(expect.objectContaining({ code: 'UNKNOWN_ENTRY' }));
    expect(() => tree.consistencyProof(0, 1)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => tree.root(-1)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
