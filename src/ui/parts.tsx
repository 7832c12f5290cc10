import type { ComponentChildren } from 'preact';

/** A titled card section: `<section>` labelled by its `<h2>`. */
export function Card({ id, title, children }: { id: string; title: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {children}
    </section>
  );
}

/**
 * The outcome line of a form: a polite status (kept in the page so screen readers announce it
 * when it fills) and, on failure, an alert.
 */
export function Outcome({ done, error }: { done?: string | undefined; error?: string | undefined }) {
  return (
    <>
      <p role="status" class="small success">
        {done ?? ''}
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}

/** A party by the name it is known by; its did stays one hover (and `data-did`) away. */
export function PartyName({ party }: { party: { readonly did: string; readonly name?: string | undefined } }) {
  return (
    <span class="party" title={party.did} data-did={party.did}>
      {party.name ?? party.did}
    </span>
  );
}

/**
 * A table's header row: one column header per name and, with `actions`, a last column for the
 * row's buttons, named "Actions" for screen readers only (its cells need no visible heading).
 */
export function ColumnHeads({ columns, actions = false }: { columns: readonly string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th scope="col" key={c}>
            {c}
          </th>
        ))}
        {actions && (
          <th scope="col">
            <span class="skip">Actions</span>
          </th>
        )}
      </tr>
    </thead>
  );
}
