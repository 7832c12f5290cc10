/**
 * Where an imported resource came from. Kept beside each resource in the vault so the patient (and
 * anyone they share with) can see whether it was signed by its issuer and when it arrived.
 */

/** Provenance of one imported resource. */
export interface Provenance {
  /** `fhir-json`: a FHIR JSON file or API hand-over (unsigned); `shc`: a SMART Health Card. */
  source: 'fhir-json' | 'shc';
  /** The card issuer (`iss`), for SMART Health Cards. */
  issuer?: string;
  /** True only for a card whose ES256 signature verified with its issuer's key. */
  verified: boolean;
  /** When the signature was verified (ISO 8601), if it was. */
  verifiedAt?: string;
  /** When the import ran (ISO 8601). */
  importedAt: string;
  /** The file it came from, if any (a name only, never a path with a user's folders in it). */
  fileName?: string;
}

/** The file's own name, without any folder part. */
export function baseFileName(fileName: string): string {
  const parts = fileName.split(/[\\/]/);
  return parts[parts.length - 1] ?? fileName;
}

/** Provenance for an unsigned FHIR JSON import. */
export function fhirJsonProvenance(now: Date, fileName?: string): Provenance {
  const p: Provenance = { source: 'fhir-json', verified: false, importedAt: now.toISOString() };
  if (fileName !== undefined) p.fileName = baseFileName(fileName);
  return p;
}

/** Provenance for a resource from a SMART Health Card. */
export function shcProvenance(now: Date, issuer: string, verified: boolean, fileName?: string): Provenance {
  const p: Provenance = { source: 'shc', issuer, verified, importedAt: now.toISOString() };
  if (verified) p.verifiedAt = now.toISOString();
  if (fileName !== undefined) p.fileName = baseFileName(fileName);
  return p;
}
