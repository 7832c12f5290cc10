/**
 * Helpers for the record store's integration tests: real vaults (src/store) on real storage, small
 * synthetic resources, and raw-storage dumps for "nothing changed" checks.
 */
import { MemoryStorage, Vault, WEAK_TEST_KDF_COST, type Storage } from '../../src/store/index.js';
import { RecordStore, type RecordStoreOptions } from '../../src/records/store/record-store.js';
import type { ResourceToStore, StoredRecord } from '../../src/records/store/types.js';
import type { Resource } from '@medplum/fhirtypes';

export const PASSPHRASE = 'a synthetic test passphrase';
export const WEAK = { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true } as const;
export const NOW = new Date('2025-07-01T12:00:00Z');

/** A new vault on `storage` (in memory by default) and its record store. */
export async function newStore(options: RecordStoreOptions & { storage?: Storage } = {}): Promise<{ storage: Storage; vault: Vault; store: RecordStore }> {
  const storage = options.storage ?? new MemoryStorage();
  const vault = await Vault.create(storage, PASSPHRASE, WEAK);
  const store = await RecordStore.open(vault, { now: () => NOW, ...options });
  return { storage, vault, store };
}

/** Opens the vault on `storage` again, from its header (as after a restart). */
export async function reopen(storage: Storage, options: RecordStoreOptions = {}): Promise<{ vault: Vault; store: RecordStore }> {
  const vault = await Vault.open(storage, { allowWeakKdf: true });
  await vault.unlock(PASSPHRASE);
  return { vault, store: await RecordStore.open(vault, { now: () => NOW, ...options }) };
}

/** Every record the store holds (key, scope, resource), in key order: equal lists mean the same records. */
export async function everyRecord(store: RecordStore): Promise<Pick<StoredRecord, 'key' | 'scope' | 'resource'>[]> {
  const keys = store
    .list()
    .map((l) => l.key)
    .sort();
  return (await store.getMany(keys)).map((r) => ({ key: r.key, scope: r.scope, resource: r.resource }));
}

/** Every key and value the storage holds (values in hex): equal dumps mean byte-identical storage. */
export async function dumpStorage(storage: Storage): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const { key, value } of storage.range('')) out.push([key, Buffer.from(value).toString('hex')]);
  return out;
}

/** A synthetic lab result, ready for the store. */
export function lab(id: string, value: number, date: string, options: { loinc?: string; unit?: string; sourceKey?: string; lastUpdated?: string } = {}): ResourceToStore {
  const unit = options.unit ?? 'mg/dL';
  const resource: Record<string, unknown> = {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: options.loinc ?? '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: date,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
  if (options.lastUpdated) resource.meta = { lastUpdated: options.lastUpdated };
  return item(resource, 'labs', options.sourceKey ?? `urn:Observation|urn:uuid:${id}`);
}

/** A synthetic patient. */
export function patient(id = 'p1', family = 'Example'): ResourceToStore {
  return item({ resourceType: 'Patient', id, name: [{ given: ['Alex'], family }], birthDate: '1980-01-01' }, 'summary', `urn:Patient|urn:uuid:${id}`);
}

export function item(resource: Record<string, unknown>, scope: ResourceToStore['scope'], sourceKey: string): ResourceToStore {
  return {
    resource: resource as unknown as Resource,
    scope,
    sourceKey,
    provenance: { source: 'fhir-json', verified: false, importedAt: NOW.toISOString(), fileName: 'synthetic.json' },
  };
}

/** Rejection code of a promise (or 'none'). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' ? code : `no code: ${String(e)}`;
  }
  return 'none';
}
