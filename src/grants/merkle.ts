import { concatBytes, equalBytes, sha256, type Digest } from '../crypto/index.js';
import { GrantsError } from './errors.js';

/**
 * Merkle trees as RFC 9162 §2.1 defines them (the same hashing as RFC 6962 and
 * transparency-dev/merkle): leaf hash SHA-256(0x00 ‖ data), node hash SHA-256(0x01 ‖ left ‖ right),
 * the empty tree's root SHA-256(""), and the tree of n leaves split at the largest power of two
 * smaller than n. The log's leaves are entry ids, in log order.
 */

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);
/** Every hash in a tree, proof or tree head is a SHA-256 digest. */
export const HASH_BYTES = 32;

/**
 * Scratch input for the common sizes (a 32-byte leaf, two 32-byte children): sha256 is
 * synchronous, so one buffer each serves every call without an allocation per hash.
 */
const LEAF_SCRATCH = new Uint8Array(1 + HASH_BYTES);
const NODE_SCRATCH = new Uint8Array(1 + 2 * HASH_BYTES);
NODE_SCRATCH[0] = 0x01;

/** RFC 9162 §2.1.1: the hash of a leaf. */
export function leafHash(data: Uint8Array): Digest {
  if (data instanceof Uint8Array && data.length === HASH_BYTES) {
    LEAF_SCRATCH.set(data, 1);
    return sha256(LEAF_SCRATCH);
  }
  return sha256(concatBytes(LEAF_PREFIX, data));
}

/** RFC 9162 §2.1.1: the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Digest {
  if (left instanceof Uint8Array && right instanceof Uint8Array && left.length === HASH_BYTES && right.length === HASH_BYTES) {
    NODE_SCRATCH.set(left, 1);
    NODE_SCRATCH.set(right, 1 + HASH_BYTES);
    return sha256(NODE_SCRATCH);
  }
  return sha256(concatBytes(NODE_PREFIX, left, right));
}

/** Root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Digest = sha256(new Uint8Array(0));

/** The largest power of two strictly smaller than n (n ≥ 2): the split point k of §2.1.1. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function checkSize(value: number, label: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new GrantsError('INVALID_INPUT', `"${label}" expected a non-negative integer`);
}

/**
 * An append-only Merkle tree that keeps every complete aligned subtree's hash, level by level
 * (level 0 = leaf hashes). Appending is O(1) amortised; the root of any prefix and every proof
 * take O(log n) hashes, because each range the RFC's recursion visits is either a stored complete
 * subtree or splits into one stored subtree and a smaller range.
 */
export class MerkleTree {
  private readonly levels: Digest[][] = [[]];

  /** Number of leaves. */
  get size(): number {
    return this.levels[0]!.length;
  }

  /** Appends a leaf (its data, e.g. an entry id's 32 bytes); returns its index. */
  append(data: Uint8Array): number {
    return this.appendLeafHash(leafHash(data));
  }

  /** Appends an already hashed leaf. */
  appendLeafHash(hash: Digest): number {
    const index = this.levels[0]!.length;
    this.levels[0]!.push(hash);
    // Complete every subtree this leaf closes: at level k, an odd index closes a pair.
    let level = 0;
    let i = index;
    while (i % 2 === 1) {
      const row = this.levels[level]!;
      const parent = nodeHash(row[i - 1]!, row[i]!);
      level++;
      this.levels[level] ??= [];
      this.levels[level]!.push(parent);
      i = (i - 1) / 2;
    }
    return index;
  }

  /** Hash of leaves [lo, hi) where the range is one the RFC's recursion visits. */
  private rangeHash(lo: number, hi: number): Digest {
    const n = hi - lo;
    if (isPowerOfTwo(n) && lo % n === 0) {
      const level = Math.log2(n);
      return this.levels[level]![lo / n]!;
    }
    const k = splitPoint(n);
    return nodeHash(this.rangeHash(lo, lo + k), this.rangeHash(lo + k, hi));
  }

  private checkTreeSize(size: number): void {
    checkSize(size, 'size');
    if (size > this.size) throw new GrantsError('UNKNOWN_ENTRY', `tree size ${size} is larger than the log (${this.size})`);
  }

  /** Root hash of the first `size` leaves (default: all). RFC 9162 §2.1.1. */
  root(size = this.size): Digest {
    this.checkTreeSize(size);
    return size === 0 ? EMPTY_ROOT : this.rangeHash(0, size);
  }

  /** The leaf hash at `index`. */
  leaf(index: number): Digest {
    checkSize(index, 'index');
    const hash = this.levels[0]![index];
    if (hash === undefined) throw new GrantsError('UNKNOWN_ENTRY', `no leaf at index ${index}`);
    return hash;
  }

  /** Inclusion proof of leaf `index` in the tree of `size` leaves: RFC 9162 §2.1.3.1 PATH(m, D[n]). */
  inclusionProof(index: number, size = this.size): Digest[] {
    this.checkTreeSize(size);
    checkSize(index, 'index');
    if (index >= size) throw new GrantsError('UNKNOWN_ENTRY', `leaf ${index} is not in a tree of size ${size}`);
    const proof: Digest[] = [];
    // Walk down from the root, collecting siblings; the proof lists them leaf first.
    let lo = 0;
    let hi = size;
    while (hi - lo > 1) {
      const k = splitPoint(hi - lo);
      if (index < lo + k) {
        proof.push(this.rangeHash(lo + k, hi));
        hi = lo + k;
      } else {
        proof.push(this.rangeHash(lo, lo + k));
        lo += k;
      }
    }
    return proof.reverse();
  }

  /** Consistency proof from the tree of `size1` leaves to the tree of `size2`: RFC 9162 §2.1.4.1 PROOF(m, D[n]). */
  consistencyProof(size1: number, size2 = this.size): Digest[] {
    this.checkTreeSize(size2);
    checkSize(size1, 'size1');
    if (size1 === 0 || size1 > size2) throw new GrantsError('INVALID_INPUT', `no consistency proof from size ${size1} to size ${size2}`);
    const proof: Digest[] = [];
    // SUBPROOF(m, D[lo:hi], b), unrolled: each step either recurses left (pushing the right
    // sibling) or right (pushing the left sibling, and b becomes false).
    let m = size1;
    let lo = 0;
    let hi = size2;
    let whole = true;
    while (m !== hi - lo) {
      const k = splitPoint(hi - lo);
      if (m <= k) {
        proof.push(this.rangeHash(lo + k, hi));
        hi = lo + k;
      } else {
        proof.push(this.rangeHash(lo, lo + k));
        lo += k;
        m -= k;
        whole = false;
      }
    }
    if (!whole) proof.push(this.rangeHash(lo, hi));
    return proof.reverse();
  }
}

/** Root hash of a list of leaf data (a convenience for tests and small trees). */
export function merkleRoot(leaves: readonly Uint8Array[]): Digest {
  const tree = new MerkleTree();
  for (const leaf of leaves) tree.append(leaf);
  return tree.root();
}

/** Array.isArray without narrowing the typed list to any[]. */
function isList(value: unknown): boolean {
  return Array.isArray(value);
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function isHash(value: Uint8Array): boolean {
  return value instanceof Uint8Array && value.length === HASH_BYTES;
}

/**
 * Checks an inclusion proof: RFC 9162 §2.1.3.2. Policy beyond the maths (as transparency-dev):
 * every hash must be 32 bytes, so an empty leaf or root never verifies.
 */
export function verifyInclusion(leafHashValue: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  // A proof is input from a peer: anything out of range is a failed proof, not an exception.
  if (!isCount(index) || !isCount(size) || !isList(proof)) return false;
  if (index >= size || !isHash(leafHashValue) || !isHash(root) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leafHashValue;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}

/**
 * Checks a consistency proof: RFC 9162 §2.1.4.2. Policy beyond the maths (as transparency-dev at
 * the vectors' commit): 0 < size1 ≤ size2 (a proof from the empty tree proves nothing); equal
 * sizes need an empty proof and byte-equal roots; otherwise every hash is 32 bytes.
 */
export function verifyConsistency(size1: number, size2: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): boolean {
  if (!isCount(size1) || !isCount(size2) || !isList(proof)) return false;
  if (size1 === 0 || size1 > size2) return false;
  // Equal sizes: the same tree, so the roots must be the same bytes (as transparency-dev compares them).
  if (size1 === size2) return proof.length === 0 && root1 instanceof Uint8Array && root2 instanceof Uint8Array && equalBytes(root1, root2);
  if (!isHash(root1) || !isHash(root2) || !proof.every(isHash)) return false;
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  if (path.length === 0) return false;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Uint8Array = path[0]!;
  let sr: Uint8Array = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(fr, root1) && equalBytes(sr, root2);
}
