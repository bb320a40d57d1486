/**
 * A graphql-ws client for tests, collecting events of one subscription.
 */
import { createClient, type Client } from 'graphql-ws';
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import WebSocket from 'ws';

export interface Collector<T> {
  events: T[];
  /** performance.now() at each event's arrival (same order as `events`). */
  arrivals: number[];
  /** Waits for an event matching `pred` (bounded). */
  next(pred: (e: T) => boolean, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export async function subscribe<R, V extends Record<string, unknown>>(
  httpUrl: string,
  doc: TypedDocumentNode<R, V>,
  variables?: V,
): Promise<Collector<R>> {
  const client: Client = createClient({
    url: `${httpUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
  });
  const events: R[] = [];
  const arrivals: number[] = [];
  const waiters: { pred: (e: R) => boolean; resolve: (e: R) => void }[] = [];
  let acknowledged!: () => void;
  const ready = new Promise<void>((r) => (acknowledged = r));
  client.on('connected', () => acknowledged());
  const dispose = client.subscribe<R>(
    { query: print(doc), variables: variables ?? {} },
    {
      next: (v) => {
        if (!v.data) return;
        const e = v.data as R;
        events.push(e);
        arrivals.push(performance.now());
        for (const w of [...waiters]) {
          if (w.pred(e)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(e);
          }
        }
      },
      error: () => {},
      complete: () => {},
    },
  );
  await ready;
  // Give the server a moment to register the subscription before the test acts.
  await new Promise((r) => setTimeout(r, 100));
  return {
    events,
    arrivals,
    next(pred, timeoutMs = 5_000) {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (e: R) => {
            clearTimeout(t);
            resolve(e);
          },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching subscription event within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    async close() {
      dispose();
      await client.dispose();
    },
  };
}
