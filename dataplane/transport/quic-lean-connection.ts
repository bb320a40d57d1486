/**
 * One lean QUIC connection as a {@link Link}: feeds datagrams to quiche,
 * serves streams, runs the send loop (capped per event-loop turn), one lazy
 * timer from `timeout()`, keepalives, and a bounded close.
 */
import type { Logger } from 'pino';
import { LinkClosedError, type Link, type LinkCloseInfo, type LinkStream } from './link.js';
import { closeInfoOf } from './quic-lean-close.js';
import type { ResolvedLeanQuicOptions } from './quic-lean-config.js';
import { LeanStream, type LeanStreamOwner } from './quic-lean-stream.js';
import { nativeErrorName, ShutdownDirection, type NativeConnection, type NativeHostPort } from './quic-native.js';

/** What a connection needs from its endpoint (server socket or client socket). */
export interface LeanConnectionHost {
  /**
   * Send `count` datagrams to `to`: datagram i is `lens[i]` bytes at `i * stride` of `buf`.
   * The buffer must not be reused while sendBufferBusy() says the socket still references it.
   */
  sendDatagrams(buf: Buffer, lens: Int32Array, count: number, stride: number, to: NativeHostPort): void;
  /** True while the socket still references the buffer of an earlier send. */
  sendBufferBusy(): boolean;
  /** quiche reports the handshake done. May close the connection (ALPN, pin). */
  onEstablished(conn: LeanConnection): void;
  /** The link ended (closed resolves now). */
  onLinkEnded(conn: LeanConnection, info: LinkCloseInfo): void;
  /** quiche has finished draining (or close timed out): drop routing state. */
  onFinalized(conn: LeanConnection): void;
}

const RECV_SCRATCH_BYTES = 64 * 1024;
const MAX_REASON_BYTES = 512;
const CLOSED_ID_MEMORY = 4096;

/** A QUIC connection driven by the lean driver. */
export class LeanConnection implements Link, LeanStreamOwner {
  readonly native: NativeConnection;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly readBufferBytes: number;
  readonly closed: Promise<LinkCloseInfo>;
  peerFingerprint: string | null = null;
  /** Set when the handshake is done and the link was handed to the application. */
  isOpen = false;

  private readonly host: LeanConnectionHost;
  private readonly opts: ResolvedLeanQuicOptions;
  private readonly idleTimeoutMs: number;
  private readonly keepAliveMs: number;
  private readonly log: Logger | null;
  private readonly local: NativeHostPort;
  private readonly isServer: boolean;
  private resolveClosed!: (info: LinkCloseInfo) => void;

  private readonly streams = new Map<number, LeanStream>();
  private readonly blocked = new Set<LeanStream>();
  private readonly closedIds = new Set<number>();
  private readonly unannounced: LeanStream[] = [];
  private streamHandler: ((stream: LinkStream) => void) | null = null;
  private nextLocalStreamId: number;
  private highestPeerStreamId = -1;

  /** One turn's datagrams, slot i at i * maxUdpPayloadBytes, handed to the socket at once. */
  private sendBuf!: Buffer;
  private sendSlots!: Buffer[];
  private readonly sendLens: Int32Array;
  private readonly scratch = Buffer.allocUnsafe(RECV_SCRATCH_BYTES);
  private flushScheduled = false;
  /** No packet sent since quiche processed the last received datagram (see bareFinWindowOpen). */
  private finWindow = false;
  /** An ACK was elicited for a stream waiting for that window, since the last datagram. */
  private finWindowAsked = false;
  private timer: NodeJS.Timeout | null = null;
  private timerDeadline = 0;
  private keepAlive: NodeJS.Timeout | null = null;
  private establishedSeen = false;
  private endInfo: LinkCloseInfo | null = null;
  private localClose: LinkCloseInfo | null = null;
  private closeDone: Promise<void> | null = null;
  private resolveCloseDone: (() => void) | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private finalized = false;

  constructor(args: {
    native: NativeConnection;
    host: LeanConnectionHost;
    options: ResolvedLeanQuicOptions;
    local: NativeHostPort;
    remote: NativeHostPort;
    isServer: boolean;
    idleTimeoutMs: number;
    keepAliveIntervalMs: number;
    logger: Logger | null;
  }) {
    this.native = args.native;
    this.host = args.host;
    this.opts = args.options;
    this.local = args.local;
    this.remoteAddress = args.remote.host;
    this.remotePort = args.remote.port;
    this.isServer = args.isServer;
    this.idleTimeoutMs = args.idleTimeoutMs;
    this.keepAliveMs = args.keepAliveIntervalMs;
    this.log = args.logger;
    this.readBufferBytes = args.options.readBufferBytes;
    this.nextLocalStreamId = args.isServer ? 1 : 0;
    this.sendLens = new Int32Array(args.options.maxPacketsPerTurn);
    this.newSendBuffer();
    this.closed = new Promise<LinkCloseInfo>((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get onStream(): ((stream: LinkStream) => void) | null {
    return this.streamHandler;
  }

  /** Setting a handler delivers the peer streams that arrived before it. */
  set onStream(handler: ((stream: LinkStream) => void) | null) {
    this.streamHandler = handler;
    if (handler === null) return;
    for (const s of this.unannounced.splice(0)) this.announce(s);
  }

  /** True once the link has ended (closed resolved). */
  get ended(): boolean {
    return this.endInfo !== null;
  }

  rttMs(): number | null {
    try {
      const path = this.native.pathStats()[0];
      return path === undefined ? null : path.rtt;
    } catch {
      return null;
    }
  }

  openStream(): Promise<LinkStream> {
    if (this.endInfo !== null) return Promise.reject(new LinkClosedError(this.endInfo));
    const id = this.nextLocalStreamId;
    this.nextLocalStreamId += 4;
    const stream = new LeanStream(this, id, false);
    this.streams.set(id, stream);
    return Promise.resolve(stream);
  }

  close(code = 0, reason = ''): Promise<void> {
    if (this.closeDone !== null) return this.closeDone;
    if (this.finalized) return Promise.resolve();
    this.closeDone = new Promise<void>((resolve) => {
      this.resolveCloseDone = resolve;
    });
    let bytes = Buffer.from(reason, 'utf8');
    if (bytes.byteLength > MAX_REASON_BYTES) bytes = bytes.subarray(0, MAX_REASON_BYTES);
    if (this.endInfo === null) {
      this.localClose = { code, reason: bytes.toString('utf8'), remote: false };
      try {
        this.native.close(true, code, bytes);
      } catch (e) {
        this.debug('close', e); // Done: already closing
      }
      this.endLink(this.localClose);
    }
    this.closeTimer = setTimeout(() => this.finalize(), this.opts.closeTimeoutMs);
    this.service();
    return this.closeDone;
  }

  /** Feed one received datagram (never reused by the caller). */
  receive(msg: Buffer, from: NativeHostPort): void {
    if (this.finalized) return;
    try {
      this.native.recv(msg, { from, to: this.local });
      this.finWindow = true;
      this.finWindowAsked = false;
    } catch (e) {
      // TlsFail and friends: quiche has recorded localError and is closing.
      this.debug('recv', e);
    }
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.flushScheduled || this.finalized) return;
    this.flushScheduled = true;
    setImmediate(this.serviceFromImmediate);
  }

  flushNow(): void {
    if (this.finalized) return;
    this.sendLoop();
    this.armTimer();
  }

  bareFinWindowOpen(): boolean {
    return this.finWindow;
  }

  awaitBareFinWindow(): void {
    if (this.finWindowAsked || this.finalized) return;
    this.finWindowAsked = true;
    try {
      // A PING unless the next packet is ack-eliciting anyway: the peer's ACK opens the window.
      this.native.sendAckEliciting();
    } catch {
      // closing
    }
    this.scheduleFlush();
  }

  setBlocked(stream: LeanStream, blocked: boolean): void {
    if (blocked) this.blocked.add(stream);
    else this.blocked.delete(stream);
  }

  streamFinished(stream: LeanStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.blocked.delete(stream);
    this.closedIds.add(stream.id);
    if (this.closedIds.size > CLOSED_ID_MEMORY) {
      const oldest = this.closedIds.values().next();
      if (oldest.done !== true) this.closedIds.delete(oldest.value);
    }
  }

  recvScratch(): Buffer {
    return this.scratch;
  }

  debug(msg: string, err: unknown): void {
    this.log?.debug({ err: nativeErrorName(err), remote: `${this.remoteAddress}:${this.remotePort}` }, msg);
  }

  /** Close right away with a transport-level reason (used by endpoints: pin mismatch, ALPN, shutdown). */
  fail(info: LinkCloseInfo): void {
    if (this.endInfo !== null) return;
    this.localClose = info;
    void this.close(info.code, info.reason);
  }

  private readonly serviceFromImmediate = (): void => {
    this.flushScheduled = false;
    this.service();
  };

  /** Process everything quiche has for us, send, re-arm the timer. */
  private service(): void {
    if (this.finalized) return;
    const native = this.native;
    if (!this.establishedSeen && native.isEstablished()) {
      this.establishedSeen = true;
      this.host.onEstablished(this);
      if (this.endInfo === null && this.isOpen && this.keepAliveMs > 0) {
        this.keepAlive = setInterval(() => {
          try {
            native.sendAckEliciting();
          } catch {
            // closing
          }
          this.scheduleFlush();
        }, this.keepAliveMs);
      }
    }
    if (this.isOpen && this.endInfo === null) {
      for (const id of native.readable()) this.readableStream(id);
      if (this.blocked.size > 0) for (const s of [...this.blocked]) s.processWrites();
    }
    this.sendLoop();
    if (native.isClosed() || native.isDraining()) {
      this.endLink(closeInfoOf(native, this.idleTimeoutMs));
      if (native.isClosed()) {
        this.finalize();
        return;
      }
    }
    this.armTimer();
  }

  private readableStream(id: number): void {
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      existing.onReadable();
      return;
    }
    const peerParity = this.isServer ? 0 : 1;
    if ((id & 3) !== peerParity || this.closedIds.has(id)) {
      // A stream we already finished (late data after a reset): discard.
      try {
        this.native.streamShutdown(id, ShutdownDirection.Read, 0);
      } catch {
        // already gone
      }
      return;
    }
    const stream = new LeanStream(this, id, true);
    this.streams.set(id, stream);
    if (id > this.highestPeerStreamId) this.highestPeerStreamId = id;
    if (this.streamHandler === null) this.unannounced.push(stream);
    else this.announce(stream);
    stream.onReadable();
  }

  private announce(stream: LeanStream): void {
    const handler = this.streamHandler;
    if (handler === null) return;
    try {
      handler(stream);
    } catch (e) {
      this.log?.error({ err: e, streamId: stream.id }, 'onStream handler threw');
    }
  }

  private newSendBuffer(): void {
    const size = this.opts.maxUdpPayloadBytes;
    this.sendBuf = Buffer.allocUnsafe(size * this.sendLens.length);
    this.sendSlots = Array.from(this.sendLens, (_, i) => this.sendBuf.subarray(i * size, (i + 1) * size));
  }

  /** Collect up to maxPacketsPerTurn datagrams from quiche and hand them to the socket in one call. */
  private sendLoop(): void {
    const native = this.native;
    const cap = this.sendLens.length;
    // The socket still references the last turn's buffer (node:dgram queued it): take a fresh one.
    if (this.host.sendBufferBusy()) this.newSendBuffer();
    let sent = 0;
    let to: NativeHostPort | null = null;
    while (sent < cap) {
      const slot = this.sendSlots[sent];
      if (slot === undefined) break;
      let r: ReturnType<NativeConnection['send']>;
      try {
        r = native.send(slot);
      } catch (e) {
        this.debug('send', e);
        break;
      }
      if (r === null) break;
      this.sendLens[sent] = r[0];
      to = r[1].to;
      sent++;
    }
    if (sent > 0 && to !== null) {
      this.host.sendDatagrams(this.sendBuf, this.sendLens, sent, this.opts.maxUdpPayloadBytes, to);
      this.finWindow = false;
    }
    if (sent === cap) this.scheduleFlush();
  }

  private armTimer(): void {
    const t = this.native.timeout();
    if (t === null) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      return;
    }
    const deadline = Date.now() + t;
    // Lazy: an earlier pending timer simply fires, calls onTimeout (harmless) and re-arms.
    if (this.timer !== null && this.timerDeadline <= deadline) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerDeadline = deadline;
    this.timer = setTimeout(this.onTimer, t);
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.finalized) return;
    this.native.onTimeout();
    this.finWindow = false; // loss detection may have shrunk the window without a fresh capacity figure
    this.service();
  };

  private endLink(info: LinkCloseInfo): void {
    if (this.endInfo !== null) return;
    const final = this.localClose ?? info;
    this.endInfo = final;
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.keepAlive = null;
    const err = new LinkClosedError(final);
    for (const s of [...this.streams.values()]) s.connectionClosed(err);
    for (const s of this.unannounced.splice(0)) s.connectionClosed(err);
    this.log?.debug({ ...final, remoteAddr: `${this.remoteAddress}:${this.remotePort}` }, 'link ended');
    this.host.onLinkEnded(this, final);
    this.resolveClosed(final);
  }

  private finalize(): void {
    if (this.finalized) return;
    if (this.endInfo === null) this.endLink(closeInfoOf(this.native, this.idleTimeoutMs));
    this.finalized = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.timer = this.keepAlive = this.closeTimer = null;
    this.host.onFinalized(this);
    this.resolveCloseDone?.();
  }

  /** Drop the connection now without waiting for draining (endpoint shutdown after close timeout). */
  forceFinalize(): void {
    this.finalize();
  }
}
