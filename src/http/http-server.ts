/**
 * The node's one HTTP server: GraphQL (+ WebSocket subscriptions and GraphiQL)
 * at /graphql, the REST shims under /api/, and whatever extra handlers the data
 * plane registers (HTTP-FLV / WS-FLV playback).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Plugin } from 'graphql-yoga';
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ListenAddress } from '../net-address.js';
import type { Services } from '../services/index.js';
import { bearerMatches, isLocalCaller, isMutatingMethod, REMOTE_MUTATION_MESSAGE, restNeedsToken, type AdminPolicy } from './admin-token.js';
import { sendError } from './envelope.js';
import type { GraphQLEndpoint, GraphQLLimits } from './graphql.js';
import { GRAPHQL_PATH } from './graphql-path.js';
import { Router, type Route } from './router.js';
import type { RelayRequestHandler } from './relay-route.js';
import { isLoopback } from './relay-target.js';

/** A handler the data plane adds (e.g. HTTP-FLV). Each returns false when the request is not its own. */
export interface HttpExtension {
  handleRequest?(req: IncomingMessage, res: ServerResponse): boolean;
  handleUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

export interface HttpServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

interface HttpServerOptions {
  listen: ListenAddress;
  services: Services;
  logger: Logger;
  routes: Route[];
  extensions?: HttpExtension[];
  /** The API relay route (`/api/relay/…`), matched on the raw URL before anything else. */
  relay?: RelayRequestHandler;
  admin?: AdminPolicy;
  /** Bounds of GraphQL documents and graphql-ws connections (defaults when absent). */
  graphql?: GraphQLLimits;
  /** More yoga plugins (GraphQL operation metrics), loaded with GraphQL itself. */
  graphqlPlugins?: () => Promise<Plugin[]>;
}

/** Largest request body any endpoint accepts (REST JSON, GraphQL POST). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A body the server will not read: declared over {@link MAX_BODY_BYTES}, or a
 * chunked GraphQL POST (Yoga reads the body itself, so its length must be known
 * up front; REST bodies are counted as they are read).
 */
function refusedBody(req: IncomingMessage, graphql: boolean): AppError | null {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
    return new AppError('PAYLOAD_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
  }
  if (graphql && declared === undefined && req.headers['transfer-encoding'] !== undefined) {
    return new AppError('LENGTH_REQUIRED', 'GraphQL requests need a Content-Length');
  }
  return null;
}

/** True when `host` only takes connections from this host (127.0.0.0/8, ::1, localhost). */
function listensOnLoopbackOnly(host: string | null): boolean {
  return host !== null && (host === 'localhost' || isLoopback(host));
}

/** An HTTP server with the node's time bounds: headersTimeout bounds slow headers (slowloris), requestTimeout slow bodies. */
export function boundedHttpServer(): http.Server {
  // Both are enforced by a sweep every connectionsCheckingInterval (Node's default is 30 s).
  return http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 });
}

/** Starts `server` listening on `listen`; resolves with the bound address, rejects when it cannot listen. */
export async function listenOn(server: http.Server, listen: ListenAddress): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const cb = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (listen.host === null) server.listen(listen.port, cb);
    else server.listen(listen.port, listen.host, cb);
  });
  return server.address() as AddressInfo;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const log = opts.logger.child({ component: 'http' });
  const admin = opts.admin ?? { token: null, protectReads: false };
  // GraphQL (yoga, the schema, graphql-ws: about 20 MB resident) is the heaviest part to
  // load: it loads on the first GraphQL request, so REST and media answer without it and a
  // node nobody queries over GraphQL does not carry it.
  let gqlLoading: Promise<GraphQLEndpoint> | null = null;
  const gql = (): Promise<GraphQLEndpoint> =>
    (gqlLoading ??= Promise.all([import('./graphql.js'), opts.graphqlPlugins?.() ?? []]).then(([m, plugins]) =>
      m.createGraphQLEndpoint(opts.services, log, admin, opts.graphql, plugins),
    ));
  const router = new Router(opts.routes);
  const extensions = opts.extensions ?? [];

  const server = boundedHttpServer();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const reqLog = log.child({ reqId: randomUUID().slice(0, 8), remote: req.socket.remoteAddress });
    // The path only: a query may carry a key or a GraphQL document with a secret.
    reqLog.debug({ method: req.method, path: (req.url ?? '/').split('?')[0] }, 'request');
    try {
      if (opts.relay?.(req, res, reqLog)) return;
    } catch (err) {
      sendError(res, err, reqLog);
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://node');
    } catch {
      sendError(res, new AppError('VALIDATION', 'bad request URL'), reqLog);
      return;
    }
    const refused = refusedBody(req, url.pathname === GRAPHQL_PATH);
    if (refused) {
      reqLog.info({ method: req.method, path: url.pathname, code: refused.code }, 'request body refused');
      sendError(res, refused, reqLog);
      return;
    }
    try {
      if (url.pathname === GRAPHQL_PATH) {
        gql()
          .then((g) => g.yoga.requestListener(req, res))
          .catch((err: unknown) => sendError(res, err, reqLog));
        return;
      }
      if (url.pathname.startsWith('/api/') && restNeedsToken(admin, req.method) && !bearerMatches(admin, req.headers.authorization)) {
        res.setHeader('www-authenticate', 'Bearer');
        sendError(res, new AppError('UNAUTHORIZED', 'this endpoint needs the admin token (Authorization: Bearer …)'), reqLog);
        return;
      }
      if (url.pathname.startsWith('/api/') && admin.token === null && isMutatingMethod(req.method) && !isLocalCaller(req)) {
        reqLog.info({ method: req.method, path: url.pathname }, 'mutation from another host refused: no http.token');
        sendError(res, new AppError('FORBIDDEN', REMOTE_MUTATION_MESSAGE), reqLog);
        return;
      }
      if (router.handle({ req, res, url, services: opts.services, log: reqLog })) return;
      for (const ext of extensions) if (ext.handleRequest?.(req, res)) return;
      sendError(res, new AppError('NOT_FOUND', `no such endpoint: ${req.method ?? ''} ${url.pathname}`), reqLog);
    } catch (err) {
      sendError(res, err, reqLog);
    }
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => log.debug({ err: err.message }, 'upgrade socket error'));
    try {
      const path = new URL(req.url ?? '/', 'http://node').pathname;
      if (path === GRAPHQL_PATH) {
        gql().then(
          (g) => g.handleUpgrade(req, socket, head),
          (err: unknown) => {
            log.warn({ err }, 'upgrade failed');
            socket.destroy();
          },
        );
        return;
      }
      for (const ext of extensions) if (ext.handleUpgrade?.(req, socket, head)) return;
    } catch (err) {
      log.warn({ err }, 'upgrade failed');
    }
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  server.on('clientError', (err, socket) => {
    log.debug({ err: err.message }, 'bad HTTP request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const a = await listenOn(server, opts.listen);
  server.on('error', (err) => log.error({ err }, 'HTTP server error'));
  const address = { host: a.address, port: a.port };
  log.info({ address: `${a.address}:${a.port}` }, 'HTTP listening (GraphQL and GraphiQL at /graphql)');
  if (admin.token === null && !listensOnLoopbackOnly(opts.listen.host)) {
    log.warn(
      { address: `${a.address}:${a.port}`, fix: 'set http.token (and send Authorization: Bearer …) to manage this node from other hosts' },
      'HTTP listens beyond this host without http.token: reads and media are open to all; changes (REST, GraphQL mutations) are accepted from this host only',
    );
  }

  let closing: Promise<void> | null = null;
  return {
    address,
    close() {
      closing ??= (async () => {
        if (gqlLoading) {
          await gqlLoading.then((g) => g.close()).catch((err: unknown) => log.warn({ err }, 'closing GraphQL WebSocket server'));
        }
        const done = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const t = setTimeout(() => server.closeAllConnections(), 1_000);
        await done;
        clearTimeout(t);
      })();
      return closing;
    },
  };
}
