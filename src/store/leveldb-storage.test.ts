import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, openLevelDbStorage } from './leveldb-storage.js';
import { runStorageConformance } from './storage-conformance.js';

runStorageConformance(
  'LevelDB (classic-level, on disk)',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pv-level-'));
    const location = join(dir, 'db');
    return {
      storage: await openLevelDbStorage(location, { create: true }),
      reopen: () => openLevelDbStorage(location),
      destroy: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { persistent: true },
);

describe('LevelDB key encoding', () => {
  it('encodes keys as UTF-16BE so byte order equals UTF-16 code-unit order', () => {
    const keys = ['a', '\u{1F600}', '\ue000', '\u0000', 'ab', '\ud800', '\uffff'];
    const byBytes = [...keys].sort((x, y) => Buffer.compare(encodeKey(x), encodeKey(y)));
    expect(byBytes).toEqual([...keys].sort());
    for (const k of keys) expect(decodeKey(encodeKey(k))).toBe(k);
  });

  it('does not decode an odd-length key', () => {
    expect(decodeKey(new Uint8Array([0, 65, 1]))).toBeUndefined();
  });
});
