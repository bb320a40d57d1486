/**
 * Server endpoint of the lean driver: one UDP socket, connections routed by
 * fixed-length connection IDs, Initial handling (version negotiation, minimum
 * size, caps on handshakes in progress), original-DCID mapping until the
 * handshake is done.
 */
import { randomBytes } from 'node:crypto';
import {
  CASCADE_ALPN,
  LinkCloseCode,
  type LinkCloseInfo,
  type LinkListener,
  type ListenOptions,
} from './link.js';
import { buildNativeConfig, RETRY_AUTO_HOLD_MS, type ResolvedLeanQuicOptions } from './quic-lean-config.js';
import { LeanConnection, type LeanConnectionHost } from './quic-lean-connection.js';
import { RetryTokens } from './quic-lean-retry.js';
import { sendOne, type DatagramSocket } from './datagram-socket.js';
import { openDatagramSocket } from './udp-socket.js';
import { resolveHost } from './quic-lean-socket.js';
import { native, PacketType, type NativeConfig, type NativeHostPort } from './quic-native.js';

/** Length of the connection IDs this server issues (short headers carry no length). */
const SERVER_CID_LEN = 16;
const MIN_INITIAL_BYTES = 1200;

/** Counters of a lean listener (for tests and metrics). */
export interface LeanListenerStats {
  /** Connections with the handshake done. */
  connections: number;
  /** Connections still in the handshake. */
  pendingHandshakes: number;
  /** Datagrams dropped: garbage, unknown CID, short Initials, over the caps. */
  droppedDatagrams: number;
  /** Initials refused because of the handshake caps. */
  refusedInitials: number;
  /** Retry packets sent (address validation). */
  retries: number;
  /** Whether a first Initial is answered with a Retry now (`statelessRetry` on, or auto during a flood). */
  retryActive: boolean;
}

/** A {@link LinkListener} with counters. */
export interface LeanLinkListener extends LinkListener {
  /** The UDP socket implementation in use (quic.udp). */
  readonly udp: 'native' | 'dgram';
  stats(): LeanListenerStats;
}

type LeanLinkLogger = NonNullable<ResolvedLeanQuicOptions['logger']>;

interface Entry {
  conn: LeanConnection;
  keys: string[];
  /** Remote IP while the handshake is in progress (for the per-address cap), else null. */
  pendingIp: string | null;
}

class LeanServer implements LeanLinkListener, LeanConnectionHost {
  readonly address: { host: string; port: number };
  /** The UDP socket implementation in use. */
  readonly udp: 'native' | 'dgram';
  private readonly socket: DatagramSocket;
  private readonly config: NativeConfig;
  private readonly opts: ResolvedLeanQuicOptions;
  private readonly listen: ListenOptions;
  private readonly local: NativeHostPort;
  private readonly idleTimeoutMs: number;
  private readonly keepAliveMs: number;
  private readonly byCid = new Map<string, Entry>();
  private readonly entries = new Map<LeanConnection, Entry>();
  private readonly pendingByIp = new Map<string, number>();
  private pending = 0;
  private established = 0;
  private dropped = 0;
  private refused = 0;
  private closing: Promise<void> | null = null;
  private readonly retry: RetryTokens | null;
  private readonly log: LeanLinkLogger | null;
  private retries = 0;
  /** Auto mode: Retry is on until this time (ms since epoch); 0 when off. */
  private retryUntil = 0;
  /** Auto mode: tokenless Initials answered with a Retry since the hold was last extended. */
  private retriedSinceHold = 0;

  constructor(socket: DatagramSocket, listen: ListenOptions, opts: ResolvedLeanQuicOptions) {
    this.socket = socket;
    this.udp = socket.kind;
    this.listen = listen;
    this.opts = opts;
    const addr = socket.address();
    this.address = { host: addr.host, port: addr.port };
    this.local = { host: addr.host, port: addr.port };
    this.idleTimeoutMs = listen.maxIdleTimeoutMs ?? opts.maxIdleTimeoutMs;
    this.keepAliveMs = listen.keepAliveIntervalMs ?? opts.keepAliveIntervalMs;
    this.config = buildNativeConfig(
      { role: 'server', certPem: listen.tls.certPem, keyPem: listen.tls.keyPem },
      opts,
      this.idleTimeoutMs,
    );
    this.retry = opts.statelessRetry !== false ? new RetryTokens() : null;
    this.log = listen.logger ?? opts.logger;
    socket.onMessage = this.onMessage;
  }

  stats(): LeanListenerStats {
    return {
      connections: this.established,
      pendingHandshakes: this.pending,
      droppedDatagrams: this.dropped,
      refusedInitials: this.refused,
      retries: this.retries,
      retryActive: this.retryActive(Date.now()),
    };
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    const conns = [...this.entries.keys()];
    this.closing = (async () => {
      // Each close is bounded by closeTimeoutMs; the socket keeps reading meanwhile (new Initials are refused).
      await Promise.all(conns.map((c) => c.close(LinkCloseCode.Normal, 'server shutting down')));
      for (const c of conns) c.forceFinalize();
      await this.socket.close();
    })();
    return this.closing;
  }

  // --- LeanConnectionHost

  sendDatagrams(buf: Buffer, lens: Int32Array, count: number, stride: number, to: NativeHostPort): void {
    // Never throws (the socket reports failures to onSocketError): the connection's
    // idle timeout ends a peer we can no longer reach.
    this.socket.sendBatch(buf, lens, count, stride, to);
  }

  /** Socket errors (failed sends): counted as dropped, logged at debug. */
  onSocketError(err: Error): void {
    this.dropped++;
    this.opts.logger?.debug({ err: err.message }, 'cascade QUIC server send failed');
  }

  sendBufferBusy(): boolean {
    return this.socket.sendBufferBusy();
  }

  onEstablished(conn: LeanConnection): void {
    const entry = this.entries.get(conn);
    if (entry === undefined) return;
    this.endPending(entry);
    // The client's original DCID is no longer needed once the handshake is done.
    const [scidKey] = entry.keys;
    for (const k of entry.keys.slice(1)) this.byCid.delete(k);
    entry.keys = scidKey === undefined ? [] : [scidKey];
    const alpn = Buffer.from(conn.native.applicationProto()).toString('utf8');
    if (alpn !== CASCADE_ALPN) {
      conn.fail({ code: LinkCloseCode.TlsFailure, reason: `unexpected ALPN "${alpn}"`, remote: false });
      return;
    }
    if (this.established >= this.opts.maxConnections || this.closing !== null) {
      conn.fail({ code: LinkCloseCode.TransportError, reason: 'server busy', remote: false });
      return;
    }
    this.established++;
    conn.isOpen = true;
    try {
      this.listen.onConnection(conn);
    } catch (e) {
      this.opts.logger?.error({ err: e }, 'onConnection handler threw');
    }
  }

  onLinkEnded(conn: LeanConnection, _info: LinkCloseInfo): void {
    const entry = this.entries.get(conn);
    if (entry === undefined) return;
    this.endPending(entry);
    if (conn.isOpen) {
      conn.isOpen = false;
      this.established--;
    }
  }

  onFinalized(conn: LeanConnection): void {
    const entry = this.entries.get(conn);
    if (entry === undefined) return;
    this.entries.delete(conn);
    for (const k of entry.keys) if (this.byCid.get(k) === entry) this.byCid.delete(k);
    this.endPending(entry);
  }

  // --- datagrams

  private readonly onMessage = (msg: Buffer, host: string, port: number): void => {
    if (msg.byteLength < 1 + SERVER_CID_LEN) {
      this.dropped++;
      return;
    }
    const first = msg[0] ?? 0;
    if ((first & 0x80) === 0) {
      // Short header: the DCID is the next SERVER_CID_LEN bytes.
      const entry = this.byCid.get(msg.toString('hex', 1, 1 + SERVER_CID_LEN));
      if (entry === undefined) {
        this.dropped++;
        return;
      }
      entry.conn.receive(msg, { host, port });
      return;
    }
    let header: ReturnType<typeof native.Header.fromSlice>;
    try {
      header = native.Header.fromSlice(msg, SERVER_CID_LEN);
    } catch {
      this.dropped++;
      return;
    }
    const dcidKey = Buffer.from(header.dcid).toString('hex');
    const entry = this.byCid.get(dcidKey);
    if (entry !== undefined) {
      entry.conn.receive(msg, { host, port });
      return;
    }
    if (header.ty !== PacketType.Initial || msg.byteLength < MIN_INITIAL_BYTES || this.closing !== null) {
      this.dropped++;
      return;
    }
    if (!native.versionIsSupported(header.version)) {
      const out = Buffer.allocUnsafe(this.opts.maxUdpPayloadBytes);
      try {
        const n = native.negotiateVersion(header.scid, header.dcid, out);
        sendOne(this.socket, out, n, { host, port });
      } catch {
        this.dropped++;
      }
      return;
    }
    if (header.dcid.byteLength < 8) {
      this.dropped++; // RFC 9000 7.2: a client's first DCID is at least 8 bytes
      return;
    }
    if (this.retry !== null) {
      const token = header.token;
      if (token === undefined || token.byteLength === 0) {
        if (this.retryActive(Date.now())) {
          this.sendRetry(header.scid, header.dcid, header.version, { host, port });
          return;
        }
        this.accept(msg, dcidKey, { host, port }, randomBytes(SERVER_CID_LEN), null);
        return;
      }
      const odcid = this.retry.check(token, host, port);
      if (odcid === null || header.dcid.byteLength !== SERVER_CID_LEN) {
        this.dropped++; // forged, expired or from another address
        return;
      }
      // The client now uses the CID we chose in the Retry: it becomes the connection's own.
      this.accept(msg, null, { host, port }, Buffer.from(header.dcid), odcid);
      return;
    }
    this.accept(msg, dcidKey, { host, port }, randomBytes(SERVER_CID_LEN), null);
  };

  /** Flood level of auto mode: a quarter of the handshakes allowed at once. */
  private get floodLevel(): number {
    return Math.max(1, Math.floor(this.opts.maxPendingHandshakes / 4));
  }

  /** Whether a tokenless Initial gets a Retry now; in auto mode also turns it off once the hold passed. */
  private retryActive(now: number): boolean {
    if (this.retry === null) return false;
    if (this.opts.statelessRetry === true) return true;
    if (this.retryUntil === 0) return false;
    if (now < this.retryUntil) return true;
    this.retryUntil = 0;
    this.log?.info({ retries: this.retries }, 'QUIC handshake flood over: address validation (Retry) off');
    return false;
  }

  /** Auto mode: a flood seen now (pending handshakes, or tokenless Initials while on) holds Retry on. */
  private floodSeen(now: number): void {
    if (this.opts.statelessRetry !== 'auto') return;
    if (this.retryUntil === 0) {
      this.log?.warn(
        { pendingHandshakes: this.pending, level: this.floodLevel, holdMs: RETRY_AUTO_HOLD_MS },
        'QUIC handshake flood: address validation (Retry) on',
      );
    }
    this.retryUntil = now + RETRY_AUTO_HOLD_MS;
    this.retriedSinceHold = 0;
  }

  private sendRetry(scid: Uint8Array, dcid: Uint8Array, version: number, from: NativeHostPort): void {
    if (this.retry === null) return;
    this.retries++;
    if (++this.retriedSinceHold >= this.floodLevel) this.floodSeen(Date.now());
    const newScid = randomBytes(SERVER_CID_LEN);
    const token = this.retry.mint(from.host, from.port, dcid);
    const out = Buffer.allocUnsafe(this.opts.maxUdpPayloadBytes);
    try {
      const n = native.retry(scid, dcid, newScid, token, version, out);
      sendOne(this.socket, out, n, from);
    } catch (e) {
      this.opts.logger?.debug({ err: e }, 'quiche retry failed');
      this.dropped++;
    }
  }

  private accept(msg: Buffer, odcidKey: string | null, remote: NativeHostPort, scid: Buffer, odcid: Buffer | null): void {
    const perIp = this.pendingByIp.get(remote.host) ?? 0;
    if (perIp >= this.opts.maxPendingHandshakesPerAddress || this.pending >= this.opts.maxPendingHandshakes) {
      this.refused++;
      this.dropped++;
      return;
    }
    let nativeConn: LeanConnection['native'];
    try {
      nativeConn = native.Connection.accept(scid, odcid, this.local, remote, this.config);
    } catch (e) {
      this.opts.logger?.debug({ err: e }, 'quiche accept failed');
      this.dropped++;
      return;
    }
    const conn = new LeanConnection({
      native: nativeConn,
      host: this,
      options: this.opts,
      local: this.local,
      remote,
      isServer: true,
      idleTimeoutMs: this.idleTimeoutMs,
      keepAliveIntervalMs: this.keepAliveMs,
      logger: this.opts.logger,
    });
    const keys = odcidKey === null ? [scid.toString('hex')] : [scid.toString('hex'), odcidKey];
    const entry: Entry = { conn, keys, pendingIp: remote.host };
    this.entries.set(conn, entry);
    for (const k of entry.keys) this.byCid.set(k, entry);
    this.pending++;
    this.pendingByIp.set(remote.host, perIp + 1);
    if (this.retry !== null && this.pending >= this.floodLevel) this.floodSeen(Date.now());
    conn.receive(msg, remote);
  }

  private endPending(entry: Entry): void {
    const ip = entry.pendingIp;
    if (ip === null) return;
    entry.pendingIp = null;
    this.pending--;
    const n = (this.pendingByIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.pendingByIp.delete(ip);
    else this.pendingByIp.set(ip, n);
  }
}

/** Bind a UDP socket and serve cascade links on it. */
export async function listenLeanQuic(listen: ListenOptions, opts: ResolvedLeanQuicOptions): Promise<LeanLinkListener> {
  const { address, family } = await resolveHost(listen.host);
  let server: LeanServer | null = null;
  const socket = await openDatagramSocket({
    implementation: opts.udp,
    addonPath: opts.udpAddonPath,
    family,
    host: address,
    port: listen.port,
    bufferBytes: opts.socketBufferBytes,
    onError: (err) => server?.onSocketError(err),
    logger: opts.logger,
  });
  server = new LeanServer(socket, listen, opts);
  return server;
}
