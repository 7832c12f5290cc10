/**
 * The scopes a vault is split into (ARCHITECTURE.md, "Vault and scopes"). A grant names scopes,
 * never a whole vault. src/records (a layer above) imports this list from here.
 */

/** Every scope name, in display order: four ordinary, then four sensitive ones. */
export const SCOPE_NAMES = [
  'summary',
  'labs',
  'notes',
  'imaging',
  'mental-health',
  'substance-use',
  'reproductive',
  'genomics',
] as const;

/**
 * One of {@link SCOPE_NAMES}. A closed literal union: a string from a page, a peer or a file becomes
 * a ScopeName only through {@link isScopeName} / {@link parseScopeName}.
 */
export type ScopeName = (typeof SCOPE_NAMES)[number];

/** Scopes never shared by default (mental health, substance use, reproductive, genomics). */
export const SENSITIVE_SCOPES: readonly ScopeName[] = ['mental-health', 'substance-use', 'reproductive', 'genomics'];

const SCOPE_SET: ReadonlySet<string> = new Set(SCOPE_NAMES);

/** True if `value` is one of the scope names. */
export function isScopeName(value: unknown): value is ScopeName {
  return typeof value === 'string' && SCOPE_SET.has(value);
}
