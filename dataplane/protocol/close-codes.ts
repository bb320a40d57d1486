/**
 * The catalogue of cascade close codes: one place for the numbers, the default
 * reasons and how a client reacts to each. Used on the wire (QUIC application
 * close codes, REJECT/GOAWAY frames), by the session state machines and by the
 * control plane's {@link CascadeAuthority} implementation. See PROTOCOL.md §6.
 */

/** How a cascade client reacts when its link ends with a code. */
type CloseRetryPolicy =
  /** Reconnect with exponential backoff (0.5 s doubling to 30 s, jitter). */
  | 'backoff'
  /** Go to state `rejected` and retry slowly (default every 30 s). */
  | 'slow'
  /** Not a code a client receives from its server. */
  | 'none';

/** One catalogue entry. */
export interface CloseCodeInfo {
  readonly code: number;
  readonly name: string;
  /** Default human-readable reason (sent when no more specific reason is given). */
  readonly reason: string;
  readonly retry: CloseRetryPolicy;
}

/** Application close codes (all below 0x100; transport codes start at 0x100). */
export const CloseCode = {
  Normal: 0x00,
  ServerShutdown: 0x01,
  ClientShutdown: 0x02,
  AuthUnknownSecret: 0x10,
  AuthSecretRequired: 0x11,
  AuthWrongSecret: 0x12,
  AuthFailed: 0x13,
  Throttled: 0x14,
  IncompatibleProtocol: 0x15,
  ServerVerificationFailed: 0x16,
  Busy: 0x17,
  RegistrationLimited: 0x18,
  Replaced: 0x20,
  ClientDeleted: 0x21,
  SecretChanged: 0x22,
  Kicked: 0x23,
  ProtocolError: 0x30,
  MalformedFrame: 0x31,
  FrameTooLarge: 0x32,
  UnknownFrameType: 0x33,
  UnexpectedFrame: 0x34,
  StreamBeforeAuth: 0x35,
  TooManyStreams: 0x36,
  UnknownStreamKind: 0x37,
  UnexpectedStream: 0x38,
  StreamKindUnsupported: 0x39,
  HelloTimeout: 0x40,
  HeartbeatTimeout: 0x41,
  InternalError: 0x50,
} as const;

/** A close code name. */
export type CloseCodeName = keyof typeof CloseCode;
/** A close code number from the catalogue. */
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName];

const entries: ReadonlyArray<[CloseCodeName, string, CloseRetryPolicy]> = [
  ['Normal', 'normal close', 'backoff'],
  ['ServerShutdown', 'server shutting down', 'backoff'],
  ['ClientShutdown', 'client shutting down', 'none'],
  ['AuthUnknownSecret', 'authentication failed: unknown secret and autoregister is off', 'slow'],
  ['AuthSecretRequired', 'authentication failed: no secret given (a name is no credential)', 'slow'],
  ['AuthWrongSecret', 'authentication failed: wrong secret', 'slow'],
  ['AuthFailed', 'authentication failed', 'slow'],
  ['Throttled', 'too many failed authentication attempts from this address; try again later', 'slow'],
  ['IncompatibleProtocol', 'incompatible protocol revision', 'slow'],
  ['ServerVerificationFailed', 'server certificate verification failed', 'slow'],
  ['Busy', 'server busy admitting other links; retry later', 'backoff'],
  ['RegistrationLimited', 'auto-registration limit reached; try again later', 'slow'],
  ['Replaced', 'replaced by a newer connection for the same client', 'slow'],
  ['ClientDeleted', 'client record deleted', 'slow'],
  ['SecretChanged', 'client secret changed', 'slow'],
  ['Kicked', 'disconnected by an operator', 'slow'],
  ['ProtocolError', 'protocol error', 'backoff'],
  ['MalformedFrame', 'protocol error: malformed frame', 'backoff'],
  ['FrameTooLarge', 'protocol error: frame too large', 'backoff'],
  ['UnknownFrameType', 'protocol error: unknown frame type', 'backoff'],
  ['UnexpectedFrame', 'protocol error: unexpected frame', 'backoff'],
  ['StreamBeforeAuth', 'protocol error: stream opened before authentication', 'backoff'],
  ['TooManyStreams', 'protocol error: too many streams', 'backoff'],
  ['UnknownStreamKind', 'protocol error: unknown stream kind', 'backoff'],
  ['UnexpectedStream', 'protocol error: unexpected stream', 'backoff'],
  ['StreamKindUnsupported', 'stream kind not supported by this node', 'none'],
  ['HelloTimeout', 'hello timeout', 'backoff'],
  ['HeartbeatTimeout', 'heartbeat timeout', 'backoff'],
  ['InternalError', 'internal error', 'backoff'],
];

/** Every catalogue entry by code. */
export const CLOSE_CODES: ReadonlyMap<number, CloseCodeInfo> = new Map(
  entries.map(([name, reason, retry]) => {
    const code = CloseCode[name];
    return [code, Object.freeze({ code, name, reason, retry })] as const;
  }),
);

/** Transport close codes (mirrors LinkCloseCode in dataplane/transport/link.ts). */
export const TransportCloseCode = {
  IdleTimeout: 0x100,
  TlsFailure: 0x101,
  TransportError: 0x102,
  FingerprintMismatch: 0x103,
} as const;

/** Catalogue entry for a code, or a generic one for codes not in the catalogue. */
export function closeCodeInfo(code: number): CloseCodeInfo {
  const known = CLOSE_CODES.get(code);
  if (known) return known;
  switch (code) {
    case TransportCloseCode.IdleTimeout:
      return { code, name: 'IdleTimeout', reason: 'peer stopped answering (idle timeout)', retry: 'backoff' };
    case TransportCloseCode.TlsFailure:
      return { code, name: 'TlsFailure', reason: 'TLS handshake failed', retry: 'slow' };
    case TransportCloseCode.FingerprintMismatch:
      return { code, name: 'FingerprintMismatch', reason: 'server certificate does not match the pinned fingerprint', retry: 'slow' };
    case TransportCloseCode.TransportError:
      return { code, name: 'TransportError', reason: 'transport error', retry: 'backoff' };
    default:
      return { code, name: `Code0x${code.toString(16)}`, reason: `closed with code ${code}`, retry: 'backoff' };
  }
}

/** Default reason for a code. */
export function closeReason(code: number): string {
  return closeCodeInfo(code).reason;
}

/** True for the codes an authority returns when it refuses a client. */
export function isAuthFailureCode(code: number): boolean {
  return code >= 0x10 && code <= 0x13;
}
