/**
 * The lean QUIC transport: quiche's native binding (from @matrixai/quic)
 * driven directly over a UDP socket (the native batch addon, or node:dgram as the
 * fallback: datagram-socket.ts), behind the {@link Transport} interface.
 *
 * Notes for users of the link (beyond link.ts):
 * - Defaults: idle timeout 2.5 s, keepalive every 0.5 s (a SIGKILLed peer ends the
 *   link with LinkCloseCode.IdleTimeout within ~2.5 s), handshake timeout 5 s,
 *   close() bounded by 1 s, 1024 concurrent streams per side, 1350-byte datagrams.
 * - connect() rejects with LinkConnectError (`info.code`: TlsFailure,
 *   FingerprintMismatch, TransportError for a timeout); the message says why
 *   (for a pin: expected and actual fingerprints).
 * - A locally opened stream reaches the peer with its first write() or end().
 * - Streams beyond the peer's limit wait (their writes stay pending) until the
 *   peer finishes streams and grants credit.
 * - rttMs() has whole-millisecond resolution (quiche's path stats).
 * - No stateless reset: after a server restart, a client's old link ends by
 *   idle timeout. Stateless retry (address validation) is `statelessRetry`:
 *   `true` (one extra round trip per handshake), `false`, or `'auto'` (default:
 *   only during a handshake flood).
 * - quiche 0.18 may forget (collect) a stream whose data is all acknowledged
 *   once its FIN is written, before that FIN has been sent or acknowledged, so
 *   the peer never sees the end. LeanStream.processWrites works around it: a FIN
 *   rides on data where it can; a bare FIN is written only right after a received
 *   datagram (before anything was sent, when quiche's capacity figure is current)
 *   with room for a packet, at urgent priority, and flushed at once. Measured
 *   before (heavy load, late end() after a reply): about 1 FIN lost per 300-1000
 *   such streams; after: none in 2000. Not covered: a bare FIN packet that is
 *   lost while earlier data of its stream is still unacknowledged (quiche does
 *   not retransmit it once the stream is collected). Protocols should mark
 *   message ends in-band (the cascade's length-prefixed frames do) and not wait
 *   on FIN alone without a timeout.
 */
import type { ConnectOptions, Link, ListenOptions, Transport } from './link.js';
import { connectLeanQuic } from './quic-lean-client.js';
import { resolveLeanQuicOptions, type LeanQuicOptions, type ResolvedLeanQuicOptions } from './quic-lean-config.js';
import { listenLeanQuic, type LeanLinkListener } from './quic-lean-server.js';

/** A {@link Transport} whose listeners expose counters. */
export interface LeanQuicTransport extends Transport {
  /** The resolved tuning this transport runs with. */
  readonly options: Readonly<ResolvedLeanQuicOptions>;
  listen(options: ListenOptions): Promise<LeanLinkListener>;
  connect(options: ConnectOptions): Promise<Link>;
}

/** Create a lean QUIC transport with tuning options (see {@link LeanQuicOptions} for defaults). */
export function createLeanQuicTransport(options: LeanQuicOptions = {}): LeanQuicTransport {
  const resolved = Object.freeze(resolveLeanQuicOptions(options));
  return {
    name: 'quic-lean',
    options: resolved,
    listen: (listen) => listenLeanQuic(listen, resolved),
    connect: (connect) => connectLeanQuic(connect, resolved),
  };
}

/** The lean QUIC transport with default options (idle timeout 2.5 s, keepalive 0.5 s, BBR, 4 MiB socket buffers, UDP socket auto). */
export const leanQuicTransport: LeanQuicTransport = createLeanQuicTransport();
