import type { Logger } from 'pino';
import { LinkClosedError, type Link, type LinkCloseInfo, type LinkStream } from '../../transport/link.js';
import {
  chunkAnnounce,
  CloseCode,
  closeReason,
  CONTROL_MAX_FRAME_BYTES,
  decodeControlFrame,
  encodeControlMessage,
  FrameDecoder,
  isControlFrameType,
  parseStreamKind,
  ProtocolError,
  StreamKind,
  streamKindName,
  type AnnounceUpdate,
  type ControlMessage,
  type StreamKindValue,
} from '../../protocol/index.js';
import { FrameReader, rawFrame } from '../frame-reader.js';
import { PrefixedStream } from './prefixed-stream.js';
import type { CascadeStreamContext, CascadeStreamHandler } from '../stream-handler.js';
import { monoNow, settleWithin } from './timing.js';

/** How a session ended. */
export interface SessionEnd {
  code: number;
  reason: string;
  /** True when the peer closed (GOAWAY/REJECT/close) or died. */
  remote: boolean;
}

/** How long a dropped control stream waits for the link's own close before it is a protocol error. */
const LINK_END_GRACE_MS = 250;

/**
 * Control bytes we may have queued for a peer that does not read them (e.g. one that
 * floods PINGs and never reads the PONGs). Past it the link is closed.
 */
const MAX_PENDING_CONTROL_BYTES = 1024 * 1024;

/** Least time between two log lines about streams over the cap, ms. */
const STREAM_REFUSAL_LOG_MS = 5_000;

/** How long a GOAWAY/REJECT write may delay the close. */
const FAREWELL_WRITE_MS = 200;

/**
 * What the server and client sessions share: the control stream (framing, writes in
 * order), peer-opened stream accounting and dispatch by kind, the heartbeat (PING
 * both ways, RTT, timeout) and closing with a code and reason. Transport-agnostic:
 * only the {@link Link} interface is used.
 */
export abstract class LinkSession {
  readonly link: Link;
  logger: Logger;
  /** When the QUIC connection was established. */
  readonly connectedAt = new Date();
  /** Wall-clock time anything was last received on the control stream. */
  lastSeen = new Date();
  /** Smoothed RTT from our PINGs, ms. */
  private srtt: number | null = null;
  /** Resolves once, when the link has ended. */
  readonly ended: Promise<SessionEnd>;

  protected control: LinkStream | null = null;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: CONTROL_MAX_FRAME_BYTES, isKnownType: isControlFrameType });
  private writeChain: Promise<void> = Promise.resolve();
  private pendingWriteBytes = 0;
  private endReason: SessionEnd | null = null;
  private closePromise: Promise<void> | null = null;
  private peerStreams = 0;
  /** Streams reset for the cap since the last log line, and when that was (monotonic ms). */
  private refusedStreams = 0;
  private lastRefusalLog = -Infinity;
  private readonly maxPeerStreams: number;
  private readonly closeTimeoutMs: number;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private lastSeenMono = monoNow();
  private pingSeq = 0;
  private readonly abort = new AbortController();

  constructor(link: Link, logger: Logger, options: { maxPeerStreams: number; closeTimeoutMs: number }) {
    this.link = link;
    this.logger = logger;
    this.maxPeerStreams = options.maxPeerStreams;
    this.closeTimeoutMs = options.closeTimeoutMs;
    link.onStream = (stream) => this.acceptStream(stream);
    this.ended = link.closed.then(
      (info) => this.finish(info),
      () => this.finish({ code: CloseCode.InternalError, reason: 'link failed', remote: false }),
    );
  }

  /** True once closing has begun (by us or by the peer). */
  get isClosing(): boolean {
    return this.endReason !== null;
  }

  /** Smoothed RTT in ms (our PINGs; else the transport's estimate). */
  get rttMs(): number | null {
    if (this.srtt !== null) return Math.round(this.srtt * 10) / 10;
    return this.link.rttMs();
  }

  /** Signal aborted when the link ends. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /**
   * Close the link with a code and reason: a farewell frame first (GOAWAY by default,
   * or e.g. REJECT; null for none), then the QUIC close. Bounded; idempotent.
   */
  close(code: number, reason: string = closeReason(code), farewell: ControlMessage | null | undefined = undefined): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.endReason ??= { code, reason, remote: false };
    this.stopHeartbeat();
    const frame = farewell === undefined ? ({ type: 'goaway', code: code & 0xff, reason: reason.slice(0, 512) } as const) : farewell;
    this.closePromise = (async () => {
      if (frame && this.control) await settleWithin(this.sendControl(frame), FAREWELL_WRITE_MS, undefined);
      await settleWithin(this.link.close(code, reason.slice(0, 512)), this.closeTimeoutMs, undefined);
    })();
    return this.closePromise;
  }

  /** Send a stream announce delta, split into ANNOUNCE frames as needed (after WELCOME only). */
  async announce(update: AnnounceUpdate): Promise<void> {
    if (!this.isOnline || this.isClosing) return;
    for (const msg of chunkAnnounce(update)) await this.sendControl(msg);
  }

  /** Queue a control message; writes go out in order. Never rejects. */
  protected sendControl(msg: ControlMessage): Promise<void> {
    const stream = this.control;
    if (!stream) return Promise.resolve();
    const bytes = encodeControlMessage(msg);
    if (this.pendingWriteBytes + bytes.byteLength > MAX_PENDING_CONTROL_BYTES && !this.isClosing) {
      this.logger.warn({ pendingBytes: this.pendingWriteBytes }, 'peer does not read its control stream; closing link');
      void this.close(CloseCode.ProtocolError, 'protocol error: control stream not read', null);
      return Promise.resolve();
    }
    this.pendingWriteBytes += bytes.byteLength;
    this.writeChain = this.writeChain
      .then(() => stream.write(bytes))
      .catch((err: unknown) => {
        if (!this.isClosing) this.logger.debug({ err }, 'control write failed');
      })
      .finally(() => {
        this.pendingWriteBytes -= bytes.byteLength;
      });
    return this.writeChain;
  }

  /** Start reading control frames from `stream` (after its kind byte). */
  protected runControl(stream: LinkStream): void {
    this.control = stream;
    void this.readControl(stream);
  }

  private async readControl(stream: LinkStream): Promise<void> {
    const reader = new FrameReader(stream, this.decoder, rawFrame);
    try {
      for (;;) {
        await reader.fill();
        if (this.isClosing) return;
        if (reader.ended) {
          // The peer may be closing the whole link: let its code and reason win.
          if (await this.linkEndsWithin(LINK_END_GRACE_MS)) return;
          void this.close(CloseCode.ProtocolError, 'protocol error: control stream ended');
          return;
        }
        // Every frame of the chunk, without a wait between them.
        for (let frame = reader.take(); frame !== undefined; frame = reader.take()) {
          const msg = decodeControlFrame(frame);
          this.lastSeen = new Date();
          this.lastSeenMono = monoNow();
          this.handleControl(msg);
          if (this.isClosing) return;
        }
      }
    } catch (err) {
      if (this.isClosing) return;
      if (err instanceof ProtocolError) {
        this.logger.warn({ code: err.code, reason: err.message }, 'protocol error on control stream; closing link');
        void this.close(err.code, err.message);
      } else {
        // A read fails when the link closes (the link's close info is the end reason) or the stream is reset.
        if (err instanceof LinkClosedError || (await this.linkEndsWithin(LINK_END_GRACE_MS))) return;
        this.logger.debug({ err }, 'control stream failed');
        void this.close(CloseCode.ProtocolError, 'protocol error: control stream reset');
      }
    }
  }

  /** True when the link ends within `ms`. */
  private async linkEndsWithin(ms: number): Promise<boolean> {
    return settleWithin(this.link.closed.then(() => true), ms, false);
  }

  private handleControl(msg: ControlMessage): void {
    switch (msg.type) {
      case 'goaway':
        this.logger.info({ code: msg.code, reason: msg.reason }, 'peer is closing the link');
        this.endReason ??= { code: msg.code, reason: msg.reason, remote: true };
        void this.close(msg.code, msg.reason, null);
        return;
      case 'ping':
        if (!this.isOnline) break;
        void this.sendControl({ type: 'pong', seq: msg.seq, ts: msg.ts });
        return;
      case 'pong': {
        if (!this.isOnline) break;
        const sample = monoNow() - msg.ts;
        if (sample >= 0 && sample < 600_000) this.srtt = this.srtt === null ? sample : this.srtt * 0.875 + sample * 0.125;
        return;
      }
      case 'error':
        if (!this.isOnline) break;
        this.logger.warn({ code: msg.code, reason: msg.reason, ref: msg.ref }, 'peer reported an error');
        return;
      default:
        break;
    }
    this.onControlMessage(msg);
  }

  /** Record the end reason the peer gave (REJECT), before closing locally. */
  protected setRemoteEnd(code: number, reason: string): void {
    this.endReason ??= { code, reason, remote: true };
  }

  /** Close for an unexpected frame. */
  protected unexpected(msg: ControlMessage): void {
    void this.close(CloseCode.UnexpectedFrame, `protocol error: unexpected frame ${msg.type.toUpperCase()}`);
  }

  /** Start PINGs every `intervalMs` and close after `timeoutMs` of silence. */
  protected startHeartbeat(intervalMs: number, timeoutMs: number): void {
    this.stopHeartbeat();
    this.lastSeenMono = monoNow();
    let lastPing = -Infinity;
    const tick = Math.max(20, Math.min(250, Math.floor(intervalMs / 2)));
    let lastTick = monoNow();
    const expire = (): void => {
      if (this.isClosing || monoNow() - this.lastSeenMono <= timeoutMs) return;
      this.logger.warn({ timeoutMs }, 'heartbeat timeout: nothing received from peer; closing link');
      void this.close(CloseCode.HeartbeatTimeout, `heartbeat timeout: nothing received for ${timeoutMs} ms`);
    };
    this.heartbeatTimer = setInterval(() => {
      if (this.isClosing) return this.stopHeartbeat();
      const now = monoNow();
      // Our own event loop was blocked (timers run late): we neither read the peer's
      // frames nor sent our PINGs meanwhile, so the stall is no evidence against the
      // peer. Silence is counted over the time we were running only, and a PING goes
      // out at once. (Nodes sharing a process, or a peer stalled by the same cause,
      // would otherwise all time out together after a long synchronous task.)
      const late = now - lastTick - tick;
      const stalled = late > 200;
      lastTick = now;
      if (stalled) {
        this.lastSeenMono = Math.min(now, this.lastSeenMono + late);
        lastPing = -Infinity;
      }
      // PING first: a side that is about to time out still asks, so a peer that is
      // alive answers before the decision.
      if (now - lastPing >= intervalMs) {
        lastPing = now;
        this.pingSeq = (this.pingSeq + 1) >>> 0;
        void this.sendControl({ type: 'ping', seq: this.pingSeq, ts: now });
      }
      // Decide after this turn's I/O (setImmediate runs after the poll phase).
      if (now - this.lastSeenMono > timeoutMs) setImmediate(expire);
    }, tick);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private acceptStream(stream: LinkStream): void {
    if (this.isClosing) {
      stream.reset(CloseCode.Normal);
      return;
    }
    this.peerStreams++;
    stream.closed.then(
      () => this.peerStreams--,
      () => this.peerStreams--,
    );
    if (this.peerStreams > this.maxPeerStreams) {
      // One stream carries the refusal: the peer's other streams and the link go on.
      this.refusedStreams++;
      const now = monoNow();
      if (now - this.lastRefusalLog >= STREAM_REFUSAL_LOG_MS) {
        this.lastRefusalLog = now;
        this.logger.warn({ limit: this.maxPeerStreams, refused: this.refusedStreams }, 'peer opened too many streams; resetting the excess streams');
        this.refusedStreams = 0;
      }
      stream.reset(CloseCode.TooManyStreams);
      return;
    }
    void this.readKind(stream);
  }

  private async readKind(stream: LinkStream): Promise<void> {
    let chunk: Uint8Array | null;
    try {
      do chunk = await stream.read();
      while (chunk !== null && chunk.byteLength === 0);
    } catch (err) {
      this.logger.debug({ err }, 'peer stream failed before its kind byte');
      return;
    }
    if (chunk === null) {
      stream.reset(CloseCode.ProtocolError);
      return;
    }
    if (this.isClosing) return;
    let kind: StreamKindValue;
    try {
      kind = parseStreamKind(chunk[0] as number);
    } catch (err) {
      const e = err as ProtocolError;
      this.logger.warn({ reason: e.message }, 'peer opened a stream of an unknown kind; closing link');
      void this.close(e.code, e.message);
      return;
    }
    this.onPeerStream(kind, new PrefixedStream(stream, chunk.subarray(1)));
  }

  /** Hand a peer-opened stream to the handler registered for its kind, or reset it. */
  protected dispatch(
    kind: StreamKindValue,
    stream: LinkStream,
    handlers: ReadonlyMap<StreamKindValue, CascadeStreamHandler>,
    ctx: Omit<CascadeStreamContext, 'kind' | 'signal' | 'logger'>,
  ): void {
    const handler = handlers.get(kind);
    if (!handler) {
      this.logger.debug({ kind: streamKindName(kind) }, 'no handler for stream kind; resetting stream');
      stream.reset(CloseCode.StreamKindUnsupported);
      return;
    }
    const logger = this.logger.child({ stream: stream.id, kind: streamKindName(kind) });
    const fail = (err: unknown): void => {
      logger.error({ err }, 'stream handler failed');
      stream.reset(CloseCode.InternalError);
    };
    try {
      const r = handler(stream, { ...ctx, kind, logger, signal: this.signal });
      if (r instanceof Promise) r.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /** Open a stream of `kind` to the peer (writes the kind byte). */
  async openKindStream(kind: StreamKindValue): Promise<LinkStream> {
    if (kind === StreamKind.Control) throw new RangeError('the control stream is opened by the session itself');
    const s = await this.link.openStream();
    await s.write(Uint8Array.of(kind));
    return s;
  }

  private finish(info: LinkCloseInfo): SessionEnd {
    this.stopHeartbeat();
    const end = this.endReason ?? { code: info.code, reason: info.reason || closeReason(info.code), remote: info.remote };
    this.endReason = end;
    this.closePromise ??= Promise.resolve();
    this.abort.abort();
    try {
      this.onEnded(end);
    } catch (err) {
      this.logger.error({ err }, 'session end handler failed');
    }
    return end;
  }

  /** True once the session is authenticated (WELCOME sent / received). */
  protected abstract get isOnline(): boolean;
  /** A control message not handled by the base (HELLO, WELCOME, REJECT, ANNOUNCE, or PING etc. before online). */
  protected abstract onControlMessage(msg: ControlMessage): void;
  /** A peer-opened stream with a valid kind byte. */
  protected abstract onPeerStream(kind: StreamKindValue, stream: LinkStream): void;
  /** The link has ended (called once). */
  protected abstract onEnded(end: SessionEnd): void;
}

