/**
 * The link interface: the only view of the transport that cascade sessions and
 * protocol code get. Nothing outside dataplane/transport/ imports the QUIC
 * binding; everything else talks to a {@link Link} and its {@link LinkStream}s.
 *
 * Semantics (both implementations must honour them; test/integration/transport-*.test.ts
 * check them):
 * - Streams are bidirectional and reliable, ordered within a stream.
 * - `read()` is pulled: the transport buffers at most a flow-control window per
 *   stream and stops granting credit while the reader does not read.
 * - `write()` resolves once the bytes are accepted by the transport (queued
 *   within the stream's capacity); awaiting it is the backpressure.
 * - `end()` sends FIN after everything written; `read()` on the peer resolves
 *   `null` after the last byte.
 * - `reset(code)` aborts both directions; the peer's pending and later
 *   `read()`/`write()` reject with {@link LinkStreamResetError}.
 * - `close(code, reason)` closes the whole connection; the peer's `closed`
 *   resolves with the same code and reason and `remote: true`.
 * - A dead peer is noticed within the idle timeout; `closed` then resolves
 *   with code {@link LinkCloseCode.IdleTimeout}.
 */
import type { Logger } from 'pino';
import { CodedError } from '../errors.js';

export interface LinkStream {
  /** Transport stream id (QUIC stream id). */
  readonly id: number;
  /** Next chunk of bytes, or `null` once the peer has ended its side. */
  read(): Promise<Uint8Array | null>;
  /** Queue bytes; resolves when the transport has accepted them. */
  write(data: Uint8Array): Promise<void>;
  /** Half-close the sending side (FIN) after all queued bytes. */
  end(): Promise<void>;
  /** Abort both directions with an application error code. Idempotent. */
  reset(code?: number): void;
  /** Resolves when both directions are finished (FIN/reset/connection close). */
  readonly closed: Promise<void>;
}

/** Why a link ended. */
export interface LinkCloseInfo {
  /** Application close code (see {@link LinkCloseCode}); transport errors map to codes >= 0x100. */
  code: number;
  /** Human-readable reason, as sent by the closing side. */
  reason: string;
  /** True when the peer closed (or died), false when we closed. */
  remote: boolean;
}

/** Well-known close codes. Application codes below 0x100 are owned by the cascade protocol. */
export const LinkCloseCode = {
  /** Normal close. */
  Normal: 0,
  /** The peer stopped answering within the idle timeout. */
  IdleTimeout: 0x100,
  /** TLS failure: certificate verification, ALPN, handshake. */
  TlsFailure: 0x101,
  /** Any other transport-level error. */
  TransportError: 0x102,
  /** The peer's certificate did not match the pinned fingerprint. */
  FingerprintMismatch: 0x103,
} as const;

/** The peer reset a stream; `code` is the reset code it sent. */
export class LinkStreamResetError extends CodedError<number> {
  constructor(code: number, message = `stream reset by peer (code ${code})`) {
    super(code, message);
  }
}

export class LinkClosedError extends Error {
  readonly info: LinkCloseInfo;
  constructor(info: LinkCloseInfo) {
    super(`link closed: ${info.reason || 'no reason'} (code ${info.code})`);
    this.name = 'LinkClosedError';
    this.info = info;
  }
}

/** A connection between two nodes. */
export interface Link {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** "sha256:HEX" (lowercase) of the peer's leaf certificate, when it sent one. */
  readonly peerFingerprint: string | null;
  /** Smoothed round-trip time in ms as the transport sees it, if known. */
  rttMs(): number | null;
  /** Open a new bidirectional stream. Rejects with LinkClosedError after close. */
  openStream(): Promise<LinkStream>;
  /** Called for every stream the peer opens. Set before the peer can open one. */
  onStream: ((stream: LinkStream) => void) | null;
  /** Close the connection with a code and reason; resolves when it is closed (bounded). Idempotent. */
  close(code?: number, reason?: string): Promise<void>;
  /** Resolves once, when the link has ended for any reason. */
  readonly closed: Promise<LinkCloseInfo>;
}

/** TLS identity of a server: PEM strings. */
export interface TlsIdentity {
  certPem: string;
  keyPem: string;
}

export interface ListenOptions {
  host: string;
  port: number;
  tls: TlsIdentity;
  /** Idle timeout in ms: a peer silent this long is closed with IdleTimeout. */
  maxIdleTimeoutMs?: number;
  /** Keep-alive interval in ms. */
  keepAliveIntervalMs?: number;
  /** Called for every established connection (TLS done, ALPN agreed). */
  onConnection: (link: Link) => void;
  /** Logger of the listener's own events (a handshake flood turning address validation on or off). */
  logger?: Logger;
}

export interface ConnectOptions {
  host: string;
  port: number;
  /** SNI / certificate name to present; defaults to "stream-cascade". */
  serverName?: string;
  /** PEM CA bundle: verify the server against it. Without it, verification is by fingerprint (checked by the caller via `peerFingerprint`, or by `fingerprint` here). */
  caPem?: string;
  /**
   * With `caPem`: the DNS name or IP address the server's certificate must be valid for
   * (the host the caller dials). Without it the certificate must name `serverName`.
   */
  verifyHost?: string;
  /** "sha256:HEX": refuse the connection (FingerprintMismatch) unless the leaf matches. */
  fingerprint?: string;
  maxIdleTimeoutMs?: number;
  keepAliveIntervalMs?: number;
  /** Handshake timeout in ms. */
  connectTimeoutMs?: number;
  /** Local IP address to send from (an address of this host, same family as the server's); default: any. */
  localAddress?: string;
}

export interface LinkListener {
  /** The bound address (port resolved when 0 was asked). */
  readonly address: { host: string; port: number };
  /** Stop accepting, close every link, release the socket. Bounded in time. Idempotent. */
  close(): Promise<void>;
}

/** What a transport implementation provides. */
export interface Transport {
  readonly name: string;
  listen(options: ListenOptions): Promise<LinkListener>;
  connect(options: ConnectOptions): Promise<Link>;
}

/** ALPN protocol id of the cascade link, owned by the protocol. */
export { CASCADE_ALPN } from '../protocol/alpn.js';
