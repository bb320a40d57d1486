/**
 * Options of the lean QUIC transport and how they become a quiche Config.
 */
import type { Logger } from 'pino';
import { CASCADE_ALPN } from './link.js';
import type { UdpImplementation } from './datagram-socket.js';
import { native, type CongestionControl, type NativeConfig } from './quic-native.js';
import { DEFAULT_UDP_ADDON_PATH } from './udp-native-socket.js';

/** Tuning knobs of the lean QUIC transport. Every field has a default. */
export interface LeanQuicOptions {
  /**
   * Congestion control: 'bbr' (default), 'cubic' or 'reno'. BBR is the default because it keeps
   * media real time over lossy WAN paths where CUBIC, taking random loss for congestion, cannot
   * (docs/RELIABILITY.md, Streams under faults); on clean paths the two measure the same.
   */
  congestionControl?: CongestionControl;
  /** UDP socket receive/send buffer sizes in bytes; the kernel caps them (rmem_max/wmem_max). */
  socketBufferBytes?: number;
  /** Connection-level flow-control window in bytes (initial max data). */
  connectionWindowBytes?: number;
  /** Per-stream flow-control window in bytes (initial max stream data). */
  streamWindowBytes?: number;
  /** Concurrent bidirectional streams the peer may open. */
  maxStreams?: number;
  /** Largest UDP payload we send, in bytes (1350 fits every usual path MTU). */
  maxUdpPayloadBytes?: number;
  /** Default idle timeout in ms (listen/connect options override it). */
  maxIdleTimeoutMs?: number;
  /** Default keep-alive interval in ms (listen/connect options override it). */
  keepAliveIntervalMs?: number;
  /** Datagrams sent per connection per event-loop turn before yielding. */
  maxPacketsPerTurn?: number;
  /** Bytes buffered per stream on the read side (above that, quiche holds the data and grants no credit). */
  readBufferBytes?: number;
  /** Server: handshakes in progress allowed per remote IP address. */
  maxPendingHandshakesPerAddress?: number;
  /** Server: handshakes in progress allowed in total. */
  maxPendingHandshakes?: number;
  /** Server: established connections allowed in total. */
  maxConnections?: number;
  /**
   * Server: answer a first Initial with a stateless Retry (address validation by HMAC token;
   * costs one round trip). `'auto'` (default): only while a handshake flood lasts, i.e. from
   * the moment a quarter of `maxPendingHandshakes` are in progress until
   * {@link RETRY_AUTO_HOLD_MS} pass with fewer tokenless Initials than that.
   */
  statelessRetry?: boolean | 'auto';
  /** Bound on close(): after this many ms the connection is dropped even if draining is not done. */
  closeTimeoutMs?: number;
  /**
   * UDP socket: 'native' (the batch addon: recvmmsg, sendmmsg, GSO; fails if it does not
   * load), 'dgram' (node:dgram), 'auto' (default: native when the addon loads, else dgram).
   */
  udp?: UdpImplementation;
  /** Path of the native UDP batch addon (default: build/Release/udp_batch.node of this package). */
  udpAddonPath?: string;
  /** Debug logger (pino). */
  logger?: Logger;
}

/** How long `statelessRetry: 'auto'` stays on after the flood that turned it on was last seen, ms. */
export const RETRY_AUTO_HOLD_MS = 10_000; // 10 seconds

/** The options with every default filled in. */
export type ResolvedLeanQuicOptions = Required<Omit<LeanQuicOptions, 'logger'>> & { logger: Logger | null };

/** Defaults: a killed peer is noticed within 2.5 s; keepalive every 500 ms. */
export const LEAN_QUIC_DEFAULTS: Readonly<ResolvedLeanQuicOptions> = Object.freeze({
  congestionControl: 'bbr',
  socketBufferBytes: 4 * 1024 * 1024, // 4 MiB
  connectionWindowBytes: 24 * 1024 * 1024, // 24 MiB
  streamWindowBytes: 4 * 1024 * 1024, // 4 MiB
  maxStreams: 1024,
  maxUdpPayloadBytes: 1350,
  maxIdleTimeoutMs: 2_500, // 2.5 seconds
  keepAliveIntervalMs: 500, // 0.5 seconds
  maxPacketsPerTurn: 64,
  readBufferBytes: 256 * 1024, // 256 KiB
  maxPendingHandshakesPerAddress: 16,
  maxPendingHandshakes: 256,
  maxConnections: 4096,
  statelessRetry: 'auto',
  closeTimeoutMs: 1_000, // 1 second
  udp: 'auto',
  udpAddonPath: DEFAULT_UDP_ADDON_PATH,
  logger: null,
});

/** Fill defaults and validate ranges. */
export function resolveLeanQuicOptions(options: LeanQuicOptions = {}): ResolvedLeanQuicOptions {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const r: ResolvedLeanQuicOptions = { ...LEAN_QUIC_DEFAULTS, ...defined };
  if (r.maxUdpPayloadBytes < 1200 || r.maxUdpPayloadBytes > 65527) {
    throw new RangeError(`maxUdpPayloadBytes must be within 1200..65527, got ${r.maxUdpPayloadBytes}`);
  }
  if (r.maxPacketsPerTurn < 1) throw new RangeError('maxPacketsPerTurn must be >= 1');
  if (r.maxIdleTimeoutMs < 0) throw new RangeError('maxIdleTimeoutMs must be >= 0');
  if (r.maxPacketsPerTurn > 1024) throw new RangeError('maxPacketsPerTurn must be <= 1024');
  if (!['auto', 'native', 'dgram'].includes(r.udp)) throw new RangeError(`udp must be auto, native or dgram, got ${String(r.udp)}`);
  return r;
}

/** TLS material for one side of a quiche Config. */
type TlsSetup =
  | { role: 'server'; certPem: string; keyPem: string }
  | { role: 'client'; caPem: string | null };

/** Build a quiche Config: TLS, ALPN, windows, idle timeout, congestion control. */
export function buildNativeConfig(tls: TlsSetup, o: ResolvedLeanQuicOptions, maxIdleTimeoutMs: number): NativeConfig {
  const enc = new TextEncoder();
  let config: NativeConfig;
  if (tls.role === 'server') {
    config = native.Config.withBoringSslCtx(false, false, null, [enc.encode(tls.keyPem)], [enc.encode(tls.certPem)], null);
  } else if (tls.caPem !== null) {
    config = native.Config.withBoringSslCtx(true, false, enc.encode(tls.caPem), null, null, null);
  } else {
    // No CA: verification is by fingerprint after the handshake (peerCertChain).
    config = native.Config.withBoringSslCtx(true, true, null, null, null, null);
  }
  config.setApplicationProtos([CASCADE_ALPN]);
  config.setMaxIdleTimeout(maxIdleTimeoutMs);
  config.setMaxRecvUdpPayloadSize(65527);
  config.setMaxSendUdpPayloadSize(o.maxUdpPayloadBytes);
  config.setInitialMaxData(o.connectionWindowBytes);
  config.setInitialMaxStreamDataBidiLocal(o.streamWindowBytes);
  config.setInitialMaxStreamDataBidiRemote(o.streamWindowBytes);
  config.setInitialMaxStreamDataUni(0);
  config.setInitialMaxStreamsBidi(o.maxStreams);
  config.setInitialMaxStreamsUni(0);
  config.setMaxConnectionWindow(Math.max(o.connectionWindowBytes, 24 * 1024 * 1024));
  config.setMaxStreamWindow(Math.max(o.streamWindowBytes, 16 * 1024 * 1024));
  config.setDisableActiveMigration(true);
  config.setCcAlgorithmName(o.congestionControl);
  config.grease(false);
  return config;
}
