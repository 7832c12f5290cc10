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
export { TrustedIssuers, httpFetchJwks, decodeQrImage, verifyCard, jwkThumbprint, type FetchJwks, type VerifiedCard } from './shc/index.js';
