/**
 * The API relay between replicas: a replica asked to relay to a lower node whose link
 * another replica holds sends the request on to that replica's `/api/relay` over HTTP,
 * authenticated with `cluster.secret`, and streams its answer back. The request goes as
 * the first replica would have sent it down the link (its headers already rewritten,
 * the caller already checked); the holder checks nothing again but the secret.
 */
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { RelayError, type RelayOutcome, type RelayRequest } from '../../dataplane/cascade/index.js';

/** Compares two secrets in constant time (for equal lengths). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Headers of a request one replica forwards to another. */
export const REPLICA_HEADER = {
  /** The cluster secret. */
  secret: 'x-stream-cascade-replica-secret',
  /** The original caller's address, as the first replica saw it. */
  caller: 'x-stream-cascade-replica-caller',
  /** The Host the caller sent to the first replica (this request's own Host names the holder). */
  host: 'x-stream-cascade-replica-host',
} as const;

/** The request headers a forwarded request stands for: as the first replica had them, with the caller's Host. */
export function forwardedHeaders(raw: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let host: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === REPLICA_HEADER.host) host = raw[i + 1]!;
    else if (name !== 'host' && name !== REPLICA_HEADER.secret && name !== REPLICA_HEADER.caller) out.push([raw[i]!, raw[i + 1]!]);
  }
  if (host !== null) out.unshift(['Host', host]);
  return out;
}

/**
 * Sends `request` for lower node `instance` to the replica at `base` (its HTTP base URL).
 * Resolves with its answer as the link would have given it: a response whose body
 * streams (a refusal by that replica is a response too, with its envelope).
 */
export function forwardRelay(base: string, secret: string, instance: number, request: RelayRequest): Promise<RelayOutcome> {
  const { head } = request;
  const url = new URL(`/api/relay/${instance}${head.target}`, base);
  const host = head.headers.find(([k]) => k.toLowerCase() === 'host')?.[1];
  const headers: Array<[string, string]> = [
    ...head.headers.filter(([k]) => k.toLowerCase() !== 'host'),
    [REPLICA_HEADER.secret, secret],
    [REPLICA_HEADER.caller, head.caller],
    ...(host === undefined ? [] : [[REPLICA_HEADER.host, host] as [string, string]]),
  ];
  return new Promise<RelayOutcome>((resolve, reject) => {
    const req = http.request(url, { method: head.method, headers: headerObject(headers), signal: request.signal });
    const timer = setTimeout(() => req.destroy(new RelayError(504, 'the replica holding the link did not answer in time')), request.timeoutMs);
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof RelayError ? err : new RelayError(502, `the replica holding the link is unreachable (${(err as NodeJS.ErrnoException).code ?? err.message})`));
    });
    req.once('response', (res) => {
      clearTimeout(timer);
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
      resolve({ kind: 'response', head: { status: res.statusCode ?? 502, headers: pairs }, body: responseBody(res) });
    });
    void sendBody(req, request.body).catch((err: unknown) => req.destroy(err as Error));
  });
}

function headerObject(pairs: readonly (readonly [string, string])[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const key = k.toLowerCase();
    const had = out[key];
    out[key] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

async function sendBody(req: http.ClientRequest, body: RelayRequest['body']): Promise<void> {
  if (body) {
    for await (const chunk of body) {
      if (!req.write(chunk)) await Promise.race([once(req, 'drain'), once(req, 'close')]);
      if (req.destroyed) return;
    }
  }
  req.end();
}

async function* responseBody(res: http.IncomingMessage): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) yield chunk;
  } catch {
    throw new RelayError(502, 'the replica holding the link broke off the answer');
  }
  if (!res.complete) throw new RelayError(502, 'the replica holding the link broke off the answer');
}
