/**
 * Works out what the user handed the import box: a FHIR resource or Bundle (JSON), a SMART
 * Health Card file (JSON with verifiableCredential), a raw JWS, or `shc:/` QR text. Pure; the
 * engine validates everything again.
 */

/** What to send to the engine's import. */
export type ImportInput = { readonly format: 'fhir'; readonly data: { readonly resourceType: string } & Record<string, unknown> } | { readonly format: 'smart-health-card'; readonly data: string };

/** Why the text is not importable, in words for the user. */
export class ImportDetectError extends Error {
  override readonly name = 'ImportDetectError';
}

/** Largest text accepted from a file or the paste box (the engine limits again). */
export const MAX_IMPORT_TEXT = 64 * 1024 * 1024;

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Classifies `text`; throws {@link ImportDetectError} when it is none of the known forms. */
export function detectImport(text: string): ImportInput {
  if (text.length > MAX_IMPORT_TEXT) throw new ImportDetectError('That file is too large to import');
  const trimmed = text.trim();
  if (trimmed === '') throw new ImportDetectError('Nothing to import: choose a file or paste a health card');
  if (/^shc:\//i.test(trimmed)) return { format: 'smart-health-card', data: trimmed };
  if (JWS.test(trimmed)) return { format: 'smart-health-card', data: trimmed };
  if (trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      throw new ImportDetectError('This looks like JSON but does not parse: is the file complete?');
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const v = value as Record<string, unknown>;
      if (Array.isArray(v.verifiableCredential)) return { format: 'smart-health-card', data: trimmed };
      if (typeof v.resourceType === 'string') return { format: 'fhir', data: v as { resourceType: string } & Record<string, unknown> };
    }
    throw new ImportDetectError('This JSON is neither a FHIR resource nor a SMART Health Card');
  }
  throw new ImportDetectError('Not a FHIR file, a SMART Health Card, or shc:/ text');
}
