/** A change made from a view: busy while it runs, the API's refusal kept to show, `after` on success. */
import { useState } from 'preact/hooks';
import { ApiError } from './api';

export interface Action {
  busy: boolean;
  error: ApiError | null;
  run(f: () => Promise<unknown>): void;
}

export function useAction(after: () => void): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = (f: () => Promise<unknown>): void => {
    setBusy(true);
    setError(null);
    f().then(
      () => {
        setBusy(false);
        after();
      },
      (e: unknown) => {
        setBusy(false);
        setError(e instanceof ApiError ? e : new ApiError(String(e), null));
      },
    );
  };
  return { busy, error, run };
}
