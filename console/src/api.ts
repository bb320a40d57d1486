/**
 * The console's GraphQL client: queries and mutations as JSON POSTs to /graphql (the
 * content type the node's CSRF rule asks for), subscriptions over graphql-ws on the
 * same path. The admin token, when the node has one, lives in this tab's
 * sessionStorage only and goes with every call.
 */
import { createClient, type Client } from 'graphql-ws';
import type { TypedDocumentString } from './generated/graphql';

const TOKEN_KEY = 'stream-cascade.token';

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
  resetSocket();
}

/** An error as the API gave it: its message and `extensions.code`. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

interface GraphQLBody<R> {
  data?: R | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Runs a query or mutation; rejects with an {@link ApiError} carrying the API's first error. */
export async function request<R, V>(doc: TypedDocumentString<R, V>, variables?: V): Promise<R> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  };
  const token = storedToken();
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query: doc.toString(), variables }) });
  } catch {
    throw new ApiError('the node does not answer', 'UNREACHABLE');
  }
  let body: GraphQLBody<R>;
  try {
    body = (await res.json()) as GraphQLBody<R>;
  } catch {
    throw new ApiError(`the node answered ${res.status} without GraphQL`, `HTTP_${res.status}`);
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code ?? null);
  if (!body.data) throw new ApiError(`the node answered ${res.status} without data`, `HTTP_${res.status}`);
  return body.data;
}

export type SocketState = 'connecting' | 'live' | 'down';

let socket: Client | null = null;
const socketListeners = new Set<(s: SocketState) => void>();
let socketState: SocketState = 'connecting';

function setSocketState(s: SocketState): void {
  socketState = s;
  for (const l of socketListeners) l(s);
}

function resetSocket(): void {
  const old = socket;
  socket = null;
  void old?.dispose();
}

function client(): Client {
  socket ??= createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    connectionParams: () => {
      const token = storedToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    retryAttempts: Number.MAX_SAFE_INTEGER,
    shouldRetry: () => true,
    retryWait: async (retries) => new Promise((r) => setTimeout(r, Math.min(5_000, 500 * 2 ** retries))),
    on: {
      connecting: () => setSocketState('connecting'),
      connected: () => setSocketState('live'),
      closed: () => setSocketState('down'),
    },
  });
  return socket;
}

/** Follows the subscription socket's state (`live` once connected); returns the unsubscribe. */
export function onSocketState(listener: (s: SocketState) => void): () => void {
  socketListeners.add(listener);
  listener(socketState);
  return () => socketListeners.delete(listener);
}

/** Subscribes to `doc`; `onData` gets each event's data. Returns the unsubscribe. */
export function subscribe<R>(doc: TypedDocumentString<R, Record<string, never>>, onData: (data: R) => void, onError: (e: ApiError) => void): () => void {
  return client().subscribe<R>(
    { query: doc.toString() },
    {
      next: (r) => {
        const first = r.errors?.[0];
        if (first) onError(new ApiError(first.message, (first.extensions?.code as string | undefined) ?? null));
        else if (r.data) onData(r.data);
      },
      error: (e) => onError(new ApiError(e instanceof Error ? e.message : 'subscription failed', null)),
      complete: () => undefined,
    },
  );
}

/** A random secret for a new or rotated client record (24 bytes, base64url: 32 characters). */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}
