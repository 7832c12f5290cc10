import { SCOPES, SENSITIVE_SCOPES, type Scope } from '../api/index.js';

/** What each scope holds, in plain words. */
export const SCOPE_TEXT: Readonly<Record<Scope, string>> = {
  summary: 'Summary — problems, medications, allergies, immunizations',
  labs: 'Lab results and reports',
  notes: 'Visit notes and documents',
  imaging: 'Imaging',
  'mental-health': 'Mental health',
  'substance-use': 'Substance use',
  reproductive: 'Reproductive health',
  genomics: 'Genomics',
};

/** Checkboxes for scopes; sensitive scopes are listed apart, marked, and off unless chosen. */
export function ScopePicker({ value, onChange, legend }: { value: readonly Scope[]; onChange: (next: Scope[]) => void; legend: string }) {
  const toggle = (s: Scope, on: boolean) => onChange(on ? [...value.filter((x) => x !== s), s] : value.filter((x) => x !== s));
  const box = (s: Scope) => (
    <label class="check" key={s}>
      <input type="checkbox" checked={value.includes(s)} onChange={(e) => toggle(s, e.currentTarget.checked)} />
      <span>
        {SCOPE_TEXT[s]}
        {SENSITIVE_SCOPES.has(s) && <span class="badge warn"> sensitive</span>}
      </span>
    </label>
  );
  return (
    <fieldset>
      <legend>{legend}</legend>
      {SCOPES.filter((s) => !SENSITIVE_SCOPES.has(s)).map(box)}
      <p class="small muted" style={{ margin: '0.5rem 0 0.2rem' }}>
        Sensitive — never shared unless you tick them:
      </p>
      {SCOPES.filter((s) => SENSITIVE_SCOPES.has(s)).map(box)}
    </fieldset>
  );
}
