/**
 * src/records: FHIR R4 resources in a patient's vault. Import (FHIR JSON, Bundles, SMART Health
 * Cards in every form), full R4 validation, scope assignment, provenance; storage of resources in
 * sealed per-scope Automerge documents, queries and export.
 * @packageDocumentation
 */

// --- Import, validation, scopes, provenance (src/records/fhir, src/records/shc) ---
/** Typed errors of this layer: {@link RecordsError} with a stable `code` and, for bad entries, `problems`. */
export { RecordsError, isRecordsError, type RecordsErrorCode, type ImportProblem } from './errors.js';
/** Turns input bytes or text into validated, scoped resources with provenance. */
export {
  parseImport,
  MAX_RESOURCES_PER_IMPORT,
  type ParsedImport,
  type ImportedResource,
  type CardReport,
  type ParseImportOptions,
} from './fhir/import.js';
/** Where an imported resource came from. */
export { type Provenance, fhirJsonProvenance, shcProvenance } from './provenance.js';
/** The scope table: names, rules, and the decision for one resource. */
export {
  SCOPES,
  SENSITIVE_SCOPES,
  SCOPE_RULES,
  ACCEPTED_RESOURCE_TYPES,
  type ScopeName,
  type ScopeRule,
  type ScopeDecision,
  assignScope,
  isScopeName,
  isAcceptedResourceType,
} from './scopes.js';
/** The validator alone (the `import_10k` baseline) and its definitions loader. */
export { validateResources, type IndexedProblem, type ResourceProblem } from './fhir/validate.js';
export { ensureDefinitions, setDefinitionsLoader, type DefinitionsLoader, type LoadedDefinitions } from './fhir/definitions.js';
/** Limits on untrusted input. */
export { MAX_IMPORT_BYTES, MAX_JSON_DEPTH } from './fhir/json.js';
/** Stable identity: the vault id of a source key, and canonical JSON. */
export { vaultIdFor, canonicalJson } from './fhir/identity.js';
/** SMART Health Cards: trust store, JWKS fetching, QR images. */
export { TrustedIssuers, httpFetchJwks, decodeQrImage, decodeQrImageAsync, imageKind, verifyCard, jwkThumbprint, type FetchJwks, type VerifiedCard } from './shc/index.js';

// --- The record store (src/records/store), queries and export ---
/**
 * The sealed record store of one vault: one Automerge document per scope, each resource version
 * one sealed value under a keyed hash of its id, a sealed index for listing, attachments as
 * encrypted 1 MiB chunks. Open it over the vault (`RecordStore.open(vault)`); import, list, read,
 * version, move, resolve conflicts, and hand scope documents and keys to sync.
 */
export {
  RecordStore,
  type RecordStoreOptions,
  type ImportOptions as StoreImportOptions,
  type ListFilter,
} from './store/record-store.js';
/** The vault operations the record store needs (src/store's `Vault` has them). */
export type { SealedKV, SealedBatchOperation as RecordsBatchOperation } from './store/sealed-kv.js';
/** Typed errors of the record store: {@link RecordStoreError} with a stable `code`. */
export { RecordStoreError, type RecordStoreErrorCode } from './store/errors.js';
/** Largest attachment the store keeps (bytes), and the size of its chunks. */
export { MAX_ATTACHMENT_BYTES, ATTACHMENT_CHUNK_BYTES } from './store/constants.js';
/** What the store takes, lists and returns. */
export type {
  RecordKey,
  RecordSummary,
  StoredRecord,
  ResourceToStore,
  ImportResult,
  ScopeCounts,
  AttachmentRef,
  IndexedQuantity,
} from './store/types.js';
/** Scope keys with epochs, as handed to another device or a grantee (sealed to it by src/grants). */
export type { ExportedScopeKeys } from './store/keyring.js';
/** The Automerge layout of a scope document, for code that syncs or relays it. */
export type { ScopeDocRoot } from './store/scope-doc.js';
/** Queries for the UI: timeline, by type, by date range, lab series (UCUM-normalised), IPS sections. */
export {
  timeline,
  byType,
  byDateRange,
  typeCounts,
  labCodes,
  labSeries,
  ipsSections,
  type TimelineOptions,
  type LabSeries,
  type LabPoint,
  type IpsSections,
  type IpsOptions,
} from './store/queries.js';
/** Unit conversion limited to what UCUM makes safe (same dimension; mass ↔ amount for known analytes). */
export { convertUnit, parseUcum, MOLAR_MASS } from './store/ucum.js';
/** Export: a FHIR Bundle (collection) of the vault or chosen scopes, and an IPS document Bundle. */
export { exportBundle, exportIps, type ExportOptions, type IpsExportOptions } from './export.js';
