import type { Brand } from '../../crypto/index.js';
import type { Resource } from '@medplum/fhirtypes';
import type { ScopeName } from '../scopes.js';

export type { ScopeName };

/** A record's name in the vault: `ResourceType/id`, with the vault's own id. */
export type RecordKey = Brand<string, 'RecordKey'>;
/** Where a record lives inside its scope document: hex of HMAC(index key, record key), 128 bits. */
export type Slot = Brand<string, 'Slot'>;
/** A sealed record value as stored in a scope document: format ‖ epoch ‖ AEAD output. */
export type SealedResource = Brand<Uint8Array, 'SealedResource'>;
/** A plain JSON object (what a FHIR resource is once parsed). */
export type JsonObject = { [key: string]: unknown };

/** Where an imported resource came from (the contract of src/records/fhir/import.ts). */
export interface Provenance {
  source: 'fhir-json' | 'shc';
  issuer?: string;
  verified: boolean;
  verifiedAt?: string;
  importedAt: string;
  fileName?: string;
}

/**
 * One resource handed to the store: what the importer produces (`ImportedResource`). `sourceKey`
 * identifies the resource at its source (e.g. a Bundle entry's fullUrl, or issuer + id), so that
 * importing the same source twice is recognised.
 */
export interface ResourceToStore {
  resource: Resource;
  scope: ScopeName;
  provenance: Provenance;
  sourceKey: string;
  /**
   * Other source names (`id:Type/id`: the id the resource had in its file), so a relative reference
   * in a later import resolves to this record (see RecordStore.resolveReference).
   */
  aliases?: string[];
  /** Labelled confidentiality R or V by its producer: held back even within its scope. */
  restricted?: boolean;
}

/** A reference from a resource to attachment content held as encrypted chunks in the vault. */
export interface AttachmentRef {
  /** JSON pointer (RFC 6901) of the Attachment (or Binary) object whose `data` was taken out. */
  path: string;
  /** Decoded size in bytes. */
  size: number;
  /** SHA-256 of the content, hex. */
  sha256: string;
  /** The chunks, in order: storage address and the chunk's own key (base64url). */
  chunks: { addr: string; key: string; size: number }[];
}

/** The plaintext inside a sealed record value (one version of one record). */
export interface RecordEnvelope {
  f: number;
  key: RecordKey;
  /** This version's id (random hex). */
  ver: string;
  /** Version number: 1 for the first, max(parents) + 1 after. */
  n: number;
  /** Version ids this one replaces (two or more after a conflict is resolved). */
  prev: string[];
  /** When this version was written (ISO 8601). */
  at: string;
  resource: JsonObject;
  prov?: Provenance;
  /** Source keys this version was imported under. */
  src: string[];
  /** Content hash of the full resource without id and meta (hex), for de-duplication. */
  hash: string;
  att?: AttachmentRef[];
  /** Restricted by its producer (confidentiality R or V). */
  rst?: boolean;
}

/** A numeric value of an Observation, as listed in the index. */
export interface IndexedQuantity {
  value: number;
  unit?: string;
  /** UCUM code when the system is UCUM. */
  code?: string;
}

/**
 * One line of a scope's index: what listing, timeline and lab charts need without opening the
 * sealed resource. The index itself is sealed in the vault.
 */
export interface RecordSummary {
  key: RecordKey;
  type: string;
  id: string;
  scope: ScopeName;
  /** Clinically relevant date (effective, onset, occurrence, authored…), ISO 8601, if any. */
  date?: string;
  /** First coding of the main code (system, code) and a display text. */
  system?: string;
  code?: string;
  display?: string;
  /** The LOINC code of an Observation or DiagnosticReport (whichever coding carries it). */
  loinc?: string;
  /** Observation category codes (e.g. laboratory, vital-signs). */
  category?: string[];
  value?: IndexedQuantity;
  /** Version number and id of the current version. */
  version: number;
  ver: string;
  /** When the current version was written. */
  updatedAt: string;
  /** Number of superseded versions kept. */
  history: number;
  /** True when two devices wrote different versions concurrently and the patient has not chosen. */
  conflict?: boolean;
  /** Number of attachments held as chunks. */
  attachments?: number;
  /** Labelled restricted by its producer: the UI and exports hold it back unless asked. */
  restricted?: boolean;
  /** Issuer and verification state of the first import (SMART Health Cards). */
  verified?: boolean;
  issuer?: string;
}

/** A stored version of a record, as returned by the store. */
export interface StoredRecord {
  key: RecordKey;
  scope: ScopeName;
  version: number;
  ver: string;
  prev: string[];
  at: string;
  resource: JsonObject;
  provenance?: Provenance;
  sourceKeys: string[];
  attachments: AttachmentRef[];
  restricted: boolean;
}

/** Counts of one import, per scope. */
export interface ScopeCounts {
  added: number;
  updated: number;
  unchanged: number;
}

/** What {@link RecordStore.importResources} did. */
export interface ImportResult {
  counts: Partial<Record<ScopeName, ScopeCounts>>;
  /** Record key of each input, in input order. */
  keys: RecordKey[];
  /** Input `Type/id` → vault key, where the vault gave another id (a clash with another record). */
  renamed: Record<string, RecordKey>;
}
