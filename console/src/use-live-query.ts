/**
 * A query kept current: loaded at once, again whenever its subscription sends an event
 * (or the event itself is the new data), after the subscription socket reconnects
 * (events may have been missed), and every `pollMs` for figures that change without
 * events (bitrate, RTT).
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, onSocketState, request, subscribe } from './api';
import type { TypedDocumentString } from './generated/graphql';

type NoVars = Record<string, never>;

export interface LiveQuery<R> {
  data: R | null;
  error: ApiError | null;
  reload(): void;
}

interface LiveOptions<R, E> {
  /** The subscription whose events change this query's answer. */
  events?: TypedDocumentString<E, NoVars>;
  /** The new answer from an event; without it (or when it returns null) the query runs again. */
  fromEvent?: (event: E) => R | null;
  pollMs?: number;
}

export function useLiveQuery<R, E = unknown>(doc: TypedDocumentString<R, NoVars>, opts: LiveOptions<R, E> = {}): LiveQuery<R> {
  const [data, setData] = useState<R | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const seq = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = useCallback(() => {
    const mine = ++seq.current;
    request(doc).then(
      (r) => {
        if (mine !== seq.current) return;
        setData(r);
        setError(null);
      },
      (e: unknown) => {
        if (mine === seq.current) setError(e instanceof ApiError ? e : new ApiError(String(e), null));
      },
    );
  }, [doc]);

  // Events often come in bursts: one query for a burst.
  const reloadSoon = useCallback(() => {
    if (timer.current !== null) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      load();
    }, 150);
  }, [load]);

  useEffect(() => {
    load();
    const offs: (() => void)[] = [];
    const { events, fromEvent, pollMs } = opts;
    if (events) {
      offs.push(
        subscribe(
          events,
          (e) => {
            const next = fromEvent?.(e) ?? null;
            if (next === null) {
              reloadSoon();
              return;
            }
            seq.current++; // an answer still on its way is older than this event
            setData(next);
            setError(null);
          },
          (e) => setError(e),
        ),
      );
      let wasLive = false;
      offs.push(
        onSocketState((s) => {
          if (s === 'live' && wasLive) reloadSoon();
          if (s === 'live') wasLive = true;
        }),
      );
    }
    if (pollMs) {
      const t = setInterval(load, pollMs);
      offs.push(() => clearInterval(t));
    }
    return () => {
      for (const off of offs) off();
      if (timer.current !== null) clearTimeout(timer.current);
      timer.current = null;
    };
    // The options of a view are fixed for its life.
  }, [doc, load, reloadSoon]);

  return { data, error, reload: load };
}
