/**
 * The transport of the cascade link. Everything outside dataplane/transport/
 * imports from here (or link.ts) and never from the QUIC package.
 */
import { leanQuicTransport } from './quic-lean.js';
import type { Transport } from './link.js';

export * from './link.js';
export {
  generateSelfSignedIdentity,
  fingerprintOfPem,
  fingerprintOfDer,
  requireFingerprint,
  loadOrCreateIdentity,
  IDENTITY_CERT_FILE,
  IDENTITY_KEY_FILE,
} from './certs.js';
export { createLeanQuicTransport, leanQuicTransport, type LeanQuicTransport } from './quic-lean.js';
export { LEAN_QUIC_DEFAULTS, type LeanQuicOptions } from './quic-lean-config.js';
export type { CongestionControl } from './quic-native.js';
export type { UdpImplementation } from './datagram-socket.js';
export { resolveUdpImplementation } from './udp-socket.js';
export type { LeanLinkListener, LeanListenerStats } from './quic-lean-server.js';
export { LinkConnectError, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_SERVER_NAME } from './quic-lean-client.js';

/** The transport the cascade uses: the lean QUIC driver. */
export const defaultTransport: Transport = leanQuicTransport;
