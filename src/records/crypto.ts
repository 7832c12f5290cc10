/**
 * src/crypto as seen from src/records. The layer lint rule lets only files directly in src/records
 * import another layer's index.ts, so files in subfolders (fhir/, shc/, store/) import it from here.
 */
export * from '../crypto/index.js';
