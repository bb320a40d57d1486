/**
 * RTMP server: accepts connections on node:net and runs one
 * {@link RtmpSession} per socket, publishing into / playing from the hub.
 */
import net from 'node:net';
import { once } from 'node:events';
import { AddressSlots, addressKey } from './address-slots.js';
import { PlayerAdmission } from './player-admission.js';
import { PendingBudget } from './rtmp-pending-budget.js';
import { RtmpSession, type RtmpSessionOptions } from './rtmp-session.js';

/** Options of {@link startRtmpServer}. */
export interface RtmpServerOptions extends RtmpSessionOptions {
  /** Listen address. Default '0.0.0.0'. */
  host?: string;
  /** Listen port; 0 picks a free one. Default 1935. */
  port?: number;
  /** Most concurrent connections. Default 1000. */
  maxConnections?: number;
  /** Most concurrent connections from one source address (IPv6: one /64); 0: no bound. Default 32. */
  maxConnectionsPerAddress?: number;
  /** Most bytes held in unfinished messages by all connections together; 0: no bound. Default 64 MiB. */
  maxPendingTotalBytes?: number;
}

/** Defaults of the RTMP server's connection and memory bounds. */
const RTMP_SERVER_DEFAULTS = {
  maxConnectionsPerAddress: 32,
  maxPendingTotalBytes: 64 * 1024 * 1024, // 64 MiB
} as const;

/** A running RTMP server. */
export interface RtmpServer {
  /** The bound address (port resolved when 0 was asked). */
  address: { host: string; port: number };
  /** Number of open connections. */
  readonly connections: number;
  /** Bytes held in unfinished messages now, all connections together. */
  readonly pendingBytes: number;
  /** Stop listening and close every connection (publishers unpublish). Idempotent. */
  close(): Promise<void>;
}

/** Start an RTMP server bound to `host:port`. */
export async function startRtmpServer(opts: RtmpServerOptions): Promise<RtmpServer> {
  const {
    host = '0.0.0.0',
    port = 1935,
    maxConnections = 1000,
    maxConnectionsPerAddress = RTMP_SERVER_DEFAULTS.maxConnectionsPerAddress,
    maxPendingTotalBytes = RTMP_SERVER_DEFAULTS.maxPendingTotalBytes,
    logger,
  } = opts;
  const log = logger.child({ component: 'rtmp' });
  const sessions = new Set<RtmpSession>();
  const admission = new PlayerAdmission({ maxPlayers: opts.maxPlayers, maxEventLoopLagMs: opts.maxEventLoopLagMs });
  const perAddress = new AddressSlots(maxConnectionsPerAddress);
  const budget = new PendingBudget(maxPendingTotalBytes);
  // Refusals are logged once per address while it holds its connections, not once per attempt.
  const refusedAddresses = new Set<string>();
  const server = net.createServer((socket) => {
    if (sessions.size >= maxConnections) {
      log.warn({ remote: socket.remoteAddress }, 'rtmp connection refused: too many connections');
      socket.destroy();
      return;
    }
    const slot = perAddress.take(socket.remoteAddress);
    if (slot === null) {
      const key = addressKey(socket.remoteAddress);
      if (!refusedAddresses.has(key)) {
        refusedAddresses.add(key);
        log.warn({ remote: socket.remoteAddress, max: maxConnectionsPerAddress }, 'rtmp connection refused: too many connections from this address');
      }
      socket.destroy();
      return;
    }
    let session: RtmpSession | null = null;
    const account = budget.open((reason) => session?.close(reason, 'warn'));
    session = new RtmpSession(
      socket,
      { ...opts, logger: log },
      (s) => {
        sessions.delete(s);
        perAddress.release(slot);
        if (perAddress.count(slot) === 0) refusedAddresses.delete(slot);
      },
      admission,
      account,
    );
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
    get pendingBytes() {
      return budget.used;
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
