/** Small shared pieces of the views. */
import type { ComponentChildren } from 'preact';
import type { ApiError } from '../api';

/** An API error as the API gave it: message and code. */
export function ErrorLine({ error }: { error: ApiError | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message}
      {error.code ? <code class="code">{error.code}</code> : null}
    </p>
  );
}

/** A table that turns into cards at phone width; a header given as `null` is an unlabelled column (actions). */
export function Table({ caption, headers, children }: { caption: string; headers: (string | null)[]; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class="cards">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {headers.map((h, i) => (
              <th key={i}>{h ?? <span class="sr-only">Actions</span>}</th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
