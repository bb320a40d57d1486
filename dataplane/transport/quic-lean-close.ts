/**
 * Mapping of quiche's connection end states to {@link LinkCloseInfo}.
 */
import { LinkCloseCode, type LinkCloseInfo } from './link.js';
import { CRYPTO_ERROR_START, CRYPTO_ERROR_STOP, type NativeConnection, type NativeConnectionError } from './quic-native.js';

const TLS_ALERTS: Readonly<Record<number, string>> = {
  40: 'handshake failure',
  42: 'bad certificate',
  43: 'unsupported certificate',
  45: 'certificate expired',
  46: 'certificate unknown',
  48: 'unknown CA (certificate not trusted)',
  80: 'internal error',
  112: 'unrecognized name',
  116: 'certificate required',
  120: 'no application protocol (ALPN mismatch)',
};

const TRANSPORT_ERRORS: readonly string[] = [
  'no error', 'internal error', 'connection refused', 'flow control error', 'stream limit error',
  'stream state error', 'final size error', 'frame encoding error', 'transport parameter error',
  'connection id limit error', 'protocol violation', 'invalid token', 'application error',
  'crypto buffer exceeded', 'key update error', 'AEAD limit reached', 'no viable path',
];

const decoder = new TextDecoder('utf-8', { fatal: false });

function describe(err: NativeConnectionError): { code: number; reason: string } {
  const text = decoder.decode(err.reason);
  if (err.isApp) return { code: err.errorCode, reason: text };
  const c = err.errorCode;
  if (c >= CRYPTO_ERROR_START && c <= CRYPTO_ERROR_STOP) {
    const alert = c - CRYPTO_ERROR_START;
    const name = TLS_ALERTS[alert] ?? `TLS alert ${alert}`;
    return { code: LinkCloseCode.TlsFailure, reason: `TLS failure: ${name}${text ? ` (${text})` : ''}` };
  }
  if (c === 0) return { code: LinkCloseCode.Normal, reason: text || 'closed' };
  const name = TRANSPORT_ERRORS[c] ?? `transport error 0x${c.toString(16)}`;
  return { code: LinkCloseCode.TransportError, reason: `${name}${text ? `: ${text}` : ''}` };
}

/** Why a connection that quiche reports draining or closed has ended. */
export function closeInfoOf(conn: NativeConnection, idleTimeoutMs: number): LinkCloseInfo {
  const peer = conn.peerError();
  if (peer !== null) return { ...describe(peer), remote: true };
  if (conn.isTimedOut()) {
    return {
      code: LinkCloseCode.IdleTimeout,
      reason: `idle timeout: nothing heard from the peer for ${idleTimeoutMs} ms`,
      remote: true,
    };
  }
  const local = conn.localError();
  if (local !== null) return { ...describe(local), remote: false };
  return { code: LinkCloseCode.TransportError, reason: 'connection closed', remote: false };
}
