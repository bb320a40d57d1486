/**
 * `GET /metrics`: on the node's HTTP listener (an extension of the HTTP server), or on
 * its own listener when `metrics.listenaddr` is set. Either way it needs the admin
 * token when `http.protectreads` is on, like every other read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../errors.js';
import { bearerMatches, restNeedsToken, type AdminPolicy } from '../http/admin-token.js';
import { sendError } from '../http/envelope.js';
import { boundedHttpServer, listenOn, type HttpExtension } from '../http/http-server.js';
import type { Logger } from '../logger.js';
import type { ListenAddress } from '../net-address.js';
import type { NodeMetrics } from './node-metrics.js';

const METRICS_PATH = '/metrics';

/** Answers `req` when it asks for /metrics; returns false for any other path. */
function serveMetrics(metrics: NodeMetrics, admin: AdminPolicy, log: Logger, req: IncomingMessage, res: ServerResponse): boolean {
  if ((req.url ?? '/').split('?')[0] !== METRICS_PATH) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    sendError(res, new AppError('METHOD_NOT_ALLOWED', `${METRICS_PATH} answers GET only`), log);
    return true;
  }
  if (restNeedsToken(admin, req.method) && !bearerMatches(admin, req.headers.authorization)) {
    res.setHeader('www-authenticate', 'Bearer');
    sendError(res, new AppError('UNAUTHORIZED', 'this endpoint needs the admin token (Authorization: Bearer …)'), log);
    return true;
  }
  metrics.text().then(
    (text) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
    (err: unknown) => sendError(res, err, log),
  );
  return true;
}

/** /metrics as an extension of the node's HTTP server. */
export function metricsExtension(metrics: NodeMetrics, admin: AdminPolicy, logger: Logger): HttpExtension {
  const log = logger.child({ component: 'metrics' });
  return { handleRequest: (req, res) => serveMetrics(metrics, admin, log, req, res) };
}

/** A listener of its own serving only /metrics (`metrics.listenaddr`). */
interface MetricsServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export async function startMetricsServer(listen: ListenAddress, metrics: NodeMetrics, admin: AdminPolicy, logger: Logger): Promise<MetricsServer> {
  const log = logger.child({ component: 'metrics' });
  const server = boundedHttpServer();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!serveMetrics(metrics, admin, log, req, res)) sendError(res, new AppError('NOT_FOUND', `this listener serves ${METRICS_PATH} only`), log);
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  const a = await listenOn(server, listen);
  server.on('error', (err) => log.error({ err }, 'metrics listener error'));
  log.info({ address: `${a.address}:${a.port}` }, `metrics listening (${METRICS_PATH})`);
  let closing: Promise<void> | null = null;
  return {
    address: { host: a.address, port: a.port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
