/**
 * RTMP server: accepts connections on node:net and runs one
 * {@link RtmpSession} per socket, publishing into / playing from the hub.
 */
import net from 'node:net';
import { once } from 'node:events';
import { PlayerAdmission } from './player-admission.js';
import { RtmpSession, type RtmpSessionOptions } from './rtmp-session.js';

/** Options of {@link startRtmpServer}. */
export interface RtmpServerOptions extends RtmpSessionOptions {
  /** Listen address. Default '0.0.0.0'. */
  host?: string;
  /** Listen port; 0 picks a free one. Default 1935. */
  port?: number;
  /** Most concurrent connections. Default 1000. */
  maxConnections?: number;
}

/** A running RTMP server. */
export interface RtmpServer {
  /** The bound address (port resolved when 0 was asked). */
  address: { host: string; port: number };
  /** Number of open connections. */
  readonly connections: number;
  /** Stop listening and close every connection (publishers unpublish). Idempotent. */
  close(): Promise<void>;
}

/** Start an RTMP server bound to `host:port`. */
export async function startRtmpServer(opts: RtmpServerOptions): Promise<RtmpServer> {
  const { host = '0.0.0.0', port = 1935, maxConnections = 1000, logger } = opts;
  const log = logger.child({ component: 'rtmp' });
  const sessions = new Set<RtmpSession>();
  const admission = new PlayerAdmission({ maxPlayers: opts.maxPlayers, maxEventLoopLagMs: opts.maxEventLoopLagMs });
  const server = net.createServer((socket) => {
    if (sessions.size >= maxConnections) {
      log.warn({ remote: socket.remoteAddress }, 'rtmp connection refused: too many connections');
      socket.destroy();
      return;
    }
    const session = new RtmpSession(socket, { ...opts, logger: log }, (s) => sessions.delete(s), admission);
    sessions.add(session);
  });
  server.on('error', (err) => log.error({ err }, 'rtmp server error'));
  server.listen(port, host);
  await once(server, 'listening');
  const addr = server.address() as net.AddressInfo;
  log.info({ host: addr.address, port: addr.port }, 'rtmp server listening');
  let closing: Promise<void> | null = null;
  return {
    address: { host: addr.address, port: addr.port },
    get connections() {
      return sessions.size;
    },
    close() {
      admission.close();
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of [...sessions]) s.close('server closing', 'debug');
      });
      return closing;
    },
  };
}
