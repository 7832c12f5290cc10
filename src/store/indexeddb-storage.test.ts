// idb checks `instanceof IDBRequest` (and the other IDB classes) against globals, so the classes
// must be global; the factory is still passed explicitly, a fresh one per test, so no database
// state is shared between tests.
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { openIndexedDbStorage } from './indexeddb-storage.js';
import { runStorageConformance } from './storage-conformance.js';
import { StoreError } from './errors.js';

runStorageConformance(
  'IndexedDB (idb over fake-indexeddb)',
  async () => {
    const factory = new IDBFactory();
    const open = () => openIndexedDbStorage({ name: 'vault-test', factory, keyRange: IDBKeyRange });
    return { storage: await open(), reopen: open };
  },
  { persistent: true },
);

describe('IndexedDB storage opening', () => {
  it('refuses a database of the same name that holds other object stores, and leaves it as it was', async () => {
    const factory = new IDBFactory();
    await new Promise<void>((resolve, reject) => {
      const request = factory.open('foreign', 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore('kv');
        request.result.createObjectStore('other-app');
      };
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(new Error('open failed'));
    });
    const error = await openIndexedDbStorage({ name: 'foreign', factory, keyRange: IDBKeyRange }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('NOT_A_VAULT');
    const names = await new Promise<string[]>((resolve) => {
      const request = factory.open('foreign');
      request.onsuccess = () => {
        resolve([...request.result.objectStoreNames]);
        request.result.close();
      };
    });
    expect(names).toEqual(['kv', 'other-app']);
  });

  it('refuses a database with a higher IndexedDB version as NEWER_SCHEMA', async () => {
    const factory = new IDBFactory();
    await new Promise<void>((resolve) => {
      const request = factory.open('newer', 7);
      request.onupgradeneeded = () => request.result.createObjectStore('kv');
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
    });
    const error = await openIndexedDbStorage({ name: 'newer', factory, keyRange: IDBKeyRange }).catch((e: unknown) => e);
    expect((error as StoreError).code).toBe('NEWER_SCHEMA');
  });

  it('reports a value that is not bytes as CORRUPT_DATABASE naming its key', async () => {
    const factory = new IDBFactory();
    const storage = await openIndexedDbStorage({ name: 'odd', factory, keyRange: IDBKeyRange });
    await storage.close();
    await new Promise<void>((resolve) => {
      const request = factory.open('odd');
      request.onsuccess = () => {
        const tx = request.result.transaction('kv', 'readwrite');
        tx.objectStore('kv').put('a string, not bytes', 'r/odd');
        tx.oncomplete = () => {
          request.result.close();
          resolve();
        };
      };
    });
    const again = await openIndexedDbStorage({ name: 'odd', factory, keyRange: IDBKeyRange });
    const error = await again.get('r/odd').catch((e: unknown) => e);
    expect((error as StoreError).code).toBe('CORRUPT_DATABASE');
    expect((error as StoreError).key).toBe('r/odd');
    await again.close();
  });
});
