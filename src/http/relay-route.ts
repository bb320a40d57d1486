/**
 * `/api/relay/{instanceId}/...` on the upper node: checks `cascade-server.relayapi`
 * (enable, whitelist by caller address, trusted proxies), the admin token, the target,
 * then relays the request over the client's cascade link and streams the answer back.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { ApiRelayError, relayRequest } from '../../dataplane/cascade/api-relay-server.js';
import { StreamKind, type CascadeServer } from '../../dataplane/cascade/index.js';
import type { RelayRequestHead } from '../../dataplane/protocol/relay-frames.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { allowedBy } from '../net-address.js';
import type { ClientService } from '../services/client.service.js';
import { bearerMatches, type AdminPolicy } from './admin-token.js';
import { sendJson } from './envelope.js';
import type { RelayInternal } from './relay-executor.js';
import {
  callerAddress,
  endToEndHeaders,
  isLoopback,
  parseRelayUrl,
  plainAddress,
  RELAY_AUTHORIZATION_HEADER,
  RELAY_INTERNAL_HEADER,
  RELAY_PREFIX,
  relayTargetProblem,
} from './relay-target.js';

/** Handles the request when it is the relay route's; returns false otherwise. */
export type RelayRequestHandler = (req: IncomingMessage, res: ServerResponse, log: Logger) => boolean;

/** Options of {@link createRelayRoute}. */
export interface RelayRouteOptions {
  /** `cascade-server.relayapi`, or null when this node is no cascade server. */
  policy: NonNullable<Config['cascadeServer']>['relayApi'] | null;
  admin: AdminPolicy;
  clients: ClientService;
  server: CascadeServer | null;
  internal: RelayInternal;
}

class RelayRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The relay route, to run before every other route of the HTTP server. */
export function createRelayRoute(opts: RelayRouteOptions): RelayRequestHandler {
  return (req, res, reqLog) => {
    const raw = req.url ?? '/';
    const parsed = parseRelayUrl(raw);
    if (!parsed) {
      // A path that only becomes /api/relay after normalisation (/api/./relay, /x/../api/relay) is refused.
      let normalized = '';
      try {
        normalized = new URL(raw, 'http://node').pathname;
      } catch {
        return false;
      }
      if (normalized !== RELAY_PREFIX && !normalized.startsWith(`${RELAY_PREFIX}/`)) return false;
      sendJson(res, 400, { code: 400, message: 'non-canonical relay path', data: null });
      return true;
    }
    void handle(opts, req, res, parsed.instance, parsed.target, reqLog.child({ component: 'api-relay' }));
    return true;
  };
}

async function handle(opts: RelayRouteOptions, req: IncomingMessage, res: ServerResponse, instance: string, target: string, log: Logger): Promise<void> {
  const started = Date.now();
  const peer = plainAddress(req.socket.remoteAddress ?? '');
  const internalToken = header(req, RELAY_INTERNAL_HEADER.token);
  const internalCaller = header(req, RELAY_INTERNAL_HEADER.caller);
  // A request relayed to this node by its own executor carries the original caller.
  const relayedHere = internalToken !== undefined && internalCaller !== undefined && isLoopback(peer) && sameSecret(internalToken, opts.internal.token);
  const caller = relayedHere ? plainAddress(internalCaller) : callerAddress(peer, req.headers['x-forwarded-for'], opts.policy?.trustedProxies ?? []);
  const method = req.method ?? 'GET';
  const path = target.split('?')[0] ?? '';
  const fields = { caller, peer, instance, method, path };
  let status = 0;
  const finish = (extra: Record<string, unknown> = {}): void => {
    log.info({ ...fields, status, durationMs: Date.now() - started, ...extra }, 'relayed request');
  };
  const fail = (s: number, message: string): void => {
    status = s;
    req.resume();
    sendJson(res, s, { code: s, message, data: null });
    finish({ error: message });
  };
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  try {
    const policy = opts.policy;
    if (!policy || !opts.server) throw new RelayRefusal(403, 'API relay is not available: this node is not a cascade server');
    if (!policy.enable) throw new RelayRefusal(403, 'API relay is disabled on this node (cascade-server.relayapi.enable)');
    if (!allowedBy(policy.whitelist, caller)) throw new RelayRefusal(403, `caller ${caller} is not in the relay whitelist`);
    if (!bearerMatches(opts.admin, req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new RelayRefusal(401, 'API relay needs the admin token (Authorization: Bearer …)');
    }
    const problem = relayTargetProblem(target);
    if (problem !== null) throw new RelayRefusal(400, problem);
    const id = /^[1-9]\d{0,14}$/.test(instance) ? Number(instance) : null;
    const record = id === null ? null : await opts.clients.find(id);
    if (id === null || !record) throw new RelayRefusal(404, `unknown instance ${instance.slice(0, 64)}`);
    if (!opts.server.session(id)) throw new RelayRefusal(503, `instance ${id} (${record.name}) is offline`);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > policy.maxBodyBytes) {
      throw new RelayRefusal(413, `request body over ${policy.maxBodyBytes} bytes`);
    }
    const head: RelayRequestHead = { method, target, headers: relayedHeaders(req, opts.admin), caller };
    let body: AsyncIterable<Uint8Array> | Uint8Array[] | null = null;
    if (req.headers['content-length'] !== undefined) {
      body = boundedBody(req, policy.maxBodyBytes);
    } else if (req.headers['transfer-encoding'] !== undefined) {
      // A chunked body is read whole (bounded) so the lower node gets a Content-Length:
      // some of its endpoints (GraphQL) refuse bodies of unknown length.
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of boundedBody(req, policy.maxBodyBytes)) {
        chunks.push(chunk);
        size += chunk.byteLength;
      }
      head.headers.push(['content-length', String(size)]);
      body = chunks;
    }
    let stream;
    try {
      stream = await opts.server.openStream(id, StreamKind.ApiRelay);
    } catch {
      throw new RelayRefusal(503, `instance ${id} (${record.name}) is offline`);
    }
    const outcome = await relayRequest(stream, {
      head,
      body,
      timeoutMs: policy.timeoutMs,
      signal: abort.signal,
    });
    if (outcome.kind === 'refused') throw new RelayRefusal(outcome.status, outcome.message);
    status = outcome.head.status;
    for (const [k, v] of outcome.head.headers) res.appendHeader(k, v);
    res.writeHead(status);
    res.flushHeaders();
    try {
      for await (const chunk of outcome.body) {
        if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        if (res.destroyed) break;
      }
    } catch (err) {
      res.destroy();
      finish({ error: abort.signal.aborted ? 'caller went away' : err instanceof Error ? err.message : 'relay failed', aborted: true });
      return;
    }
    if (!res.destroyed) res.end();
    finish(res.destroyed ? { aborted: true } : {});
  } catch (err) {
    if (err instanceof RelayRefusal || err instanceof ApiRelayError) {
      fail(err.status, err.message);
      return;
    }
    log.error({ err, ...fields }, 'relay failed');
    fail(500, 'internal error');
  }
}

/** Request headers to send down: end-to-end ones, without this node's admin token and the internal ones. */
function relayedHeaders(req: IncomingMessage, admin: AdminPolicy): Array<[string, string]> {
  const drop = [RELAY_AUTHORIZATION_HEADER, 'x-forwarded-for'];
  if (admin.token !== null) drop.push('authorization');
  const next = header(req, RELAY_AUTHORIZATION_HEADER);
  if (next !== undefined) drop.push('authorization');
  const headers = endToEndHeaders(req.rawHeaders, drop);
  // X-Relay-Authorization carries the next node's own token: it becomes that node's Authorization.
  if (next !== undefined) headers.push(['authorization', next]);
  return headers;
}

async function* boundedBody(req: IncomingMessage, limit: number): AsyncGenerator<Uint8Array> {
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw new ApiRelayError(413, `request body over ${limit} bytes`);
    yield chunk;
  }
}
