/**
 * `/api/relay/{instanceId}/...` on the upper node: checks `cascade-server.relayapi`
 * (enable, whitelist by caller address, trusted proxies), the admin token and the
 * target, then has the relay service carry the request over the lower node's link and
 * streams the answer back.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { RelayError, type RelayOutcome } from '../../dataplane/cascade/index.js';
import type { RelayRequestHead } from '../../dataplane/protocol/relay-frames.js';
import type { Config } from '../config.js';
import { AppError, expectedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { allowedBy } from '../net-address.js';
import type { RelayService } from '../services/relay.service.js';
import { bearerMatches, type AdminPolicy } from './admin-token.js';
import { sendError, sendJson } from './envelope.js';
import type { RelayInternal } from './relay-executor.js';
import { forwardedHeaders, REPLICA_HEADER, sameSecret } from '../cluster/relay-forward.js';
import {
  callerAddress,
  endToEndHeaders,
  isLoopback,
  parseRelayUrl,
  plainAddress,
  RELAY_AUTHORIZATION_HEADER,
  RELAY_INTERNAL_HEADER,
  RELAY_PREFIX,
  relayResponseHeaders,
  relayTargetProblem,
} from './relay-target.js';

/** Handles the request when it is the relay route's; returns false otherwise. */
export type RelayRequestHandler = (req: IncomingMessage, res: ServerResponse, log: Logger) => boolean;

type RelayPolicy = NonNullable<Config['cascadeServer']>['relayApi'];

/** Options of {@link createRelayRoute}. */
interface RelayRouteOptions {
  /** `cascade-server.relayapi`, or null when this node is no cascade server. */
  policy: RelayPolicy | null;
  admin: AdminPolicy;
  relay: RelayService;
  internal: RelayInternal;
  /** Told of every relayed call when its answer ends: the status sent (0: none) and the seconds it took. */
  observe?: (status: number, seconds: number) => void;
  /** `cluster.secret`: requests another replica forwards carry it (null: none accepted). */
  replicaSecret?: string | null;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Handles the request when it is the relay route's; returns false otherwise. */
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

/** Who is calling: the peer, and the original caller (through our own executor, trusted proxies or another replica). */
function identify(req: IncomingMessage, opts: RelayRouteOptions): { caller: string; peer: string; fromReplica: boolean } {
  const peer = plainAddress(req.socket.remoteAddress ?? '');
  const replicaSecret = header(req, REPLICA_HEADER.secret);
  const replicaCaller = header(req, REPLICA_HEADER.caller);
  if (opts.replicaSecret && replicaSecret !== undefined && replicaCaller !== undefined && sameSecret(replicaSecret, opts.replicaSecret)) {
    return { caller: plainAddress(replicaCaller), peer, fromReplica: true };
  }
  const internalToken = header(req, RELAY_INTERNAL_HEADER.token);
  const internalCaller = header(req, RELAY_INTERNAL_HEADER.caller);
  // A request relayed to this node by its own executor carries the original caller.
  const relayedHere = internalToken !== undefined && internalCaller !== undefined && isLoopback(peer) && sameSecret(internalToken, opts.internal.token);
  const caller = relayedHere ? plainAddress(internalCaller) : callerAddress(peer, req.headers['x-forwarded-for'], opts.policy?.trustedProxies ?? []);
  return { caller, peer, fromReplica: false };
}

/** Throws unless `caller` may relay `target` under this node's policy and admin token. */
function authorize(opts: RelayRouteOptions, req: IncomingMessage, res: ServerResponse, caller: string, target: string, fromReplica: boolean): RelayPolicy {
  const policy = opts.policy;
  if (!policy || !opts.relay.available) throw new AppError('FORBIDDEN', 'API relay is not available: this node is not a cascade server');
  if (!policy.enable) throw new AppError('FORBIDDEN', 'API relay is disabled on this node (cascade-server.relayapi.enable)');
  // The replica that forwarded it checked the caller and the admin token already.
  if (fromReplica) return policy;
  if (!allowedBy(policy.whitelist, caller)) throw new AppError('FORBIDDEN', `caller ${caller} is not in the relay whitelist`);
  if (!bearerMatches(opts.admin, req.headers.authorization)) {
    res.setHeader('www-authenticate', 'Bearer');
    throw new AppError('UNAUTHORIZED', 'API relay needs the admin token (Authorization: Bearer …)');
  }
  const problem = relayTargetProblem(target);
  if (problem !== null) throw new AppError('VALIDATION', problem);
  return policy;
}

/**
 * The request body to send down, bounded by `maxBodyBytes`. A chunked body is read whole
 * so the lower node gets a Content-Length: some of its endpoints (GraphQL) refuse bodies
 * of unknown length.
 */
async function requestBody(req: IncomingMessage, head: RelayRequestHead, maxBodyBytes: number): Promise<AsyncIterable<Uint8Array> | Uint8Array[] | null> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBodyBytes) throw new AppError('PAYLOAD_TOO_LARGE', `request body over ${maxBodyBytes} bytes`);
  if (req.headers['content-length'] !== undefined) return boundedBody(req, maxBodyBytes);
  if (req.headers['transfer-encoding'] === undefined) return null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of boundedBody(req, maxBodyBytes)) {
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  head.headers.push(['content-length', String(size)]);
  return chunks;
}

/** Streams the lower node's response to the caller; returns how it ended. */
async function sendResponse(
  res: ServerResponse,
  outcome: Extract<RelayOutcome, { kind: 'response' }>,
  abort: AbortSignal,
  allowSetCookie: boolean,
): Promise<Record<string, unknown>> {
  for (const [k, v] of relayResponseHeaders(outcome.head.headers, allowSetCookie)) res.appendHeader(k, v);
  // A body longer or shorter than its Content-Length fails the response instead of spilling into the next one.
  res.strictContentLength = true;
  res.writeHead(outcome.head.status);
  res.flushHeaders();
  try {
    for await (const chunk of outcome.body) {
      if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      if (res.destroyed) break;
    }
  } catch (err) {
    res.destroy();
    return { error: abort.aborted ? 'caller went away' : err instanceof Error ? err.message : 'relay failed', aborted: true };
  }
  if (!res.destroyed) res.end();
  return res.destroyed ? { aborted: true } : {};
}

async function handle(opts: RelayRouteOptions, req: IncomingMessage, res: ServerResponse, instance: string, target: string, log: Logger): Promise<void> {
  const started = Date.now();
  const { caller, peer, fromReplica } = identify(req, opts);
  const method = req.method ?? 'GET';
  const fields = { caller, peer, instance, method, path: target.split('?')[0] ?? '', ...(fromReplica ? { fromReplica } : {}) };
  let status = 0;
  const finish = (extra: Record<string, unknown> = {}): void => {
    const durationMs = Date.now() - started;
    log.info({ ...fields, status, durationMs, ...extra }, 'relayed request');
    opts.observe?.(status, durationMs / 1000);
  };
  const refuse = (s: number, message: string): void => {
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
    const policy = authorize(opts, req, res, caller, target, fromReplica);
    const lower = await opts.relay.target(instance, { localOnly: fromReplica });
    // From a replica the headers come as it would have sent them down (rewritten there).
    const headers = fromReplica ? endToEndHeaders(forwardedHeaders(req.rawHeaders).flat()) : relayedHeaders(req, opts.admin);
    const head: RelayRequestHead = { method, target, headers, caller };
    const body = await requestBody(req, head, policy.maxBodyBytes);
    const outcome = await opts.relay.relay(lower, { head, body, timeoutMs: policy.timeoutMs, signal: abort.signal });
    if (outcome.kind === 'refused') {
      refuse(outcome.status, outcome.message);
      return;
    }
    status = outcome.head.status;
    finish(await sendResponse(res, outcome, abort.signal, policy.allowSetCookie));
  } catch (err) {
    const expected = expectedError(err);
    if (!expected) log.error({ err, ...fields }, 'relay failed');
    status = expected?.status ?? 500;
    req.resume();
    sendError(res, err, log);
    finish({ error: expected?.message ?? 'internal error' });
  }
}

/** Request headers to send down: end-to-end ones, without this node's admin token and the internal ones. */
function relayedHeaders(req: IncomingMessage, admin: AdminPolicy): Array<[string, string]> {
  // A caller's own replica headers never travel on (they would mix with a forwarding replica's).
  const drop = [RELAY_AUTHORIZATION_HEADER, 'x-forwarded-for', ...Object.values(REPLICA_HEADER)];
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
    if (size > limit) throw new RelayError(413, `request body over ${limit} bytes`);
    yield chunk;
  }
}
