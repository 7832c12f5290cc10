// idb needs the IndexedDB classes as globals; the factory is still passed per test.
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openIndexedDbStorage, openLevelDbStorage, Vault, WEAK_TEST_KDF_COST, type Storage } from '../../src/store/index.js';

const PASS = `passphrase-${randomUUID()}`;
const WEAK = { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true };
const enc = (s: string) => new TextEncoder().encode(s);

/** Synthetic FHIR-ish resources, each holding a unique marker in several fields. */
function syntheticResources(count: number): { id: string; marker: string; json: string }[] {
  return Array.from({ length: count }, (_, i) => {
    const marker = `MARKER${randomUUID().replaceAll('-', '')}`;
    const json = JSON.stringify({
      resourceType: 'Observation',
      id: `obs-${i}`,
      code: { text: `${marker} synthetic glucose` },
      valueQuantity: { value: 5 + i / 10, unit: 'mmol/L' },
      note: [{ text: `${marker} patient note ${'x'.repeat(i * 37)}` }],
    });
    return { id: `Observation/obs-${i}`, marker, json };
  });
}

/** Writes every resource through the vault under a keyed hash of its id (ids are health data too). */
async function writeThroughVault(storage: Storage, resources: ReturnType<typeof syntheticResources>): Promise<void> {
  const vault = await Vault.create(storage, PASS, WEAK);
  const key = (id: string) => `res/${Buffer.from(vault.keyedHash('record-id', enc(id))).toString('hex')}`;
  await vault.batchSealed(resources.slice(0, 20).map((r) => ({ type: 'put' as const, key: key(r.id), value: enc(r.json) })));
  for (const r of resources.slice(20)) await vault.putSealed(key(r.id), enc(r.json));
  // Overwrite and delete some, so old versions would linger in logs if anything were plaintext.
  await vault.putSealed(key(resources[0]!.id), enc(resources[0]!.json.replace('glucose', 'sodium')));
  await vault.deleteSealed(key(resources[1]!.id));
  await vault.changePassphrase(PASS, PASS);
  await storage.close();
}

/** Every encoding a marker could be stored in: UTF-8, UTF-16LE, UTF-16BE (our LevelDB keys). */
function needles(text: string): Buffer[] {
  return [Buffer.from(text, 'utf8'), Buffer.from(text, 'utf16le'), Buffer.from(text, 'utf16le').swap16()];
}

function findAny(haystack: Buffer, texts: string[]): string[] {
  return texts.filter((t) => needles(t).some((n) => haystack.includes(n)));
}

/** Every raw byte of every file under `dir`, concatenated with separators. */
async function allFileBytes(dir: string): Promise<{ bytes: Buffer; files: number }> {
  const parts: Buffer[] = [];
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files++;
    parts.push(await readFile(join(entry.parentPath, entry.name)), Buffer.from([0]));
  }
  return { bytes: Buffer.concat(parts), files };
}

/** Every database, store, key and value the IndexedDB factory holds, as bytes. */
async function allIndexedDbBytes(factory: IDBFactory): Promise<Buffer> {
  const parts: Buffer[] = [];
  const push = (value: unknown) => {
    if (value instanceof Uint8Array) parts.push(Buffer.from(value));
    else if (value instanceof ArrayBuffer) parts.push(Buffer.from(value));
    else if (typeof value === 'string') parts.push(Buffer.from(value, 'utf8'), Buffer.from(value, 'utf16le'));
    else parts.push(Buffer.from(JSON.stringify(value) ?? String(value)));
    parts.push(Buffer.from([0]));
  };
  for (const { name } of await factory.databases()) {
    push(name);
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(name!);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(new Error('open failed'));
    });
    for (const storeName of db.objectStoreNames) {
      push(storeName);
      const store = db.transaction(storeName, 'readonly').objectStore(storeName);
      const [keys, values] = await Promise.all(
        [store.getAllKeys(), store.getAll()].map(
          (request) =>
            new Promise<unknown[]>((resolve, reject) => {
              request.onsuccess = () => resolve(request.result as unknown[]);
              request.onerror = () => reject(new Error('read failed'));
            }),
        ),
      );
      keys!.forEach(push);
      values!.forEach(push);
    }
    db.close();
  }
  return Buffer.concat(parts);
}

describe('no plaintext at rest: scanning every raw byte of the backend', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('finds no marker, no record id and no passphrase in any LevelDB file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pv-scan-'));
    dirs.push(dir);
    const resources = syntheticResources(60);
    await writeThroughVault(await openLevelDbStorage(join(dir, 'vault'), { create: true }), resources);
    const { bytes, files } = await allFileBytes(dir);
    expect(files).toBeGreaterThanOrEqual(4); // CURRENT, MANIFEST, log, LOG at least
    expect(bytes.length).toBeGreaterThan(60 * 150);
    expect(findAny(bytes, resources.map((r) => r.marker))).toEqual([]);
    expect(findAny(bytes, resources.map((r) => r.id))).toEqual([]);
    expect(findAny(bytes, ['synthetic glucose', 'Observation', PASS])).toEqual([]);
  });

  it('finds no marker, no record id and no passphrase in any IndexedDB database, store, key or value', async () => {
    const factory = new IDBFactory();
    const resources = syntheticResources(60);
    await writeThroughVault(await openIndexedDbStorage({ name: 'vault', factory, keyRange: IDBKeyRange }), resources);
    const bytes = await allIndexedDbBytes(factory);
    expect(bytes.length).toBeGreaterThan(60 * 150);
    expect(findAny(bytes, resources.map((r) => r.marker))).toEqual([]);
    expect(findAny(bytes, resources.map((r) => r.id))).toEqual([]);
    expect(findAny(bytes, ['synthetic glucose', 'Observation', PASS])).toEqual([]);
  });

  // The controls: the same scanners do find a marker that reaches the backend unsealed, in a value
  // or in a key — so an empty result above means the bytes are not there, not that we looked badly.
  it('control: the LevelDB scan finds a marker written unsealed, in a value and in a key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pv-scan-control-'));
    dirs.push(dir);
    const storage = await openLevelDbStorage(join(dir, 'vault'), { create: true });
    await storage.put('plain', enc('MARKERcontrolvalue'));
    await storage.put('MARKERcontrolkey', enc('x'));
    await storage.close();
    const { bytes } = await allFileBytes(dir);
    expect(findAny(bytes, ['MARKERcontrolvalue', 'MARKERcontrolkey'])).toEqual(['MARKERcontrolvalue', 'MARKERcontrolkey']);
  });

  it('control: the IndexedDB scan finds a marker written unsealed, in a value and in a key', async () => {
    const factory = new IDBFactory();
    const storage = await openIndexedDbStorage({ name: 'vault', factory, keyRange: IDBKeyRange });
    await storage.put('plain', enc('MARKERcontrolvalue'));
    await storage.put('MARKERcontrolkey', enc('x'));
    await storage.close();
    const bytes = await allIndexedDbBytes(factory);
    expect(findAny(bytes, ['MARKERcontrolvalue', 'MARKERcontrolkey'])).toEqual(['MARKERcontrolvalue', 'MARKERcontrolkey']);
  });
});
