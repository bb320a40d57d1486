/**
 * Typed facade over the native quiche binding exported by @matrixai/quic.
 * This is the only file that imports the binding; everything else in the lean
 * driver uses the names re-exported here.
 */
import { quiche } from '@matrixai/quic/native/index.js';
import type {
  Config as NativeConfig,
  Connection as NativeConnection,
  ConnectionError as NativeConnectionError,
  Header as NativeHeader,
  Host as NativeHostPort,
  RecvInfo as NativeRecvInfo,
} from '@matrixai/quic/native/types.js';

export type { NativeConfig, NativeConnection, NativeConnectionError, NativeHeader, NativeHostPort, NativeRecvInfo };

/** The loaded binding (Config, Connection, Header and constants). */
export const native = quiche;

/** Packet types, as numbers (the binding's enum is a runtime object). */
export const PacketType = {
  Initial: quiche.Type.Initial,
  Retry: quiche.Type.Retry,
  Handshake: quiche.Type.Handshake,
  ZeroRTT: quiche.Type.ZeroRTT,
  VersionNegotiation: quiche.Type.VersionNegotiation,
  Short: quiche.Type.Short,
} as const;

/** Stream shutdown directions. */
export const ShutdownDirection = {
  Read: quiche.Shutdown.Read,
  Write: quiche.Shutdown.Write,
} as const;

/** First and last QUIC transport error code that carries a TLS alert (0x100 + alert). */
export const CRYPTO_ERROR_START = quiche.CRYPTO_ERROR_START;
export const CRYPTO_ERROR_STOP = quiche.CRYPTO_ERROR_STOP;

/** Congestion control algorithm names accepted by quiche. */
export type CongestionControl = 'cubic' | 'reno' | 'bbr';

/**
 * The binding throws plain Errors whose message is quiche's error name, e.g.
 * "Done", "StreamLimit", "StreamReset(5)", "StreamStopped(7)", "TlsFail".
 */
export function nativeErrorName(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Code of a "StreamReset(n)" error, or null. */
export function streamResetCode(e: unknown): number | null {
  const m = /StreamReset\((\d{1,16})\)/.exec(nativeErrorName(e));
  return m?.[1] !== undefined ? Number(m[1]) : null;
}

/** Code of a "StreamStopped(n)" error, or null. */
export function streamStoppedCode(e: unknown): number | null {
  const m = /StreamStopped\((\d{1,16})\)/.exec(nativeErrorName(e));
  return m?.[1] !== undefined ? Number(m[1]) : null;
}
