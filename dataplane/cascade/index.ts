/**
 * Cascade sessions: the server (upper node) and client (lower node) state machines
 * over the transport's Link interface. See dataplane/PROTOCOL.md.
 */
export * from './link/authority.js';
export * from './link/cascade-server.js';
export * from './link/upper-link.js';
export { UpstreamSupervisor, type Upstream, type UpstreamOverview, type UpstreamServerStatus, type UpstreamSwitch } from './link/upstream-supervisor.js';
export type { CascadeServerVerification } from './link/server-verifier.js';
export * from './stream-handler.js';
export * from './errors.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './link/backoff.js';
export { KnownServersFile, parseKnownServers, serverKey, type KnownServer, type TofuResult } from './link/known-servers.js';
export { AuthThrottle, type AuthThrottleOptions, type ThrottleVerdict } from './link/auth-throttle.js';
export { AdmissionBucket, type AdmissionOptions } from './link/admission.js';
export type { SessionEnd } from './link/link-session.js';
// The close-code catalogue and stream kinds, re-exported for callers of the session API.
export {
  CLOSE_CODES,
  CloseCode,
  closeCodeInfo,
  closeReason,
  isAuthFailureCode,
  StreamKind,
  type AnnounceMessage,
  type AnnounceUpdate,
  type CloseCodeInfo,
  type CloseCodeName,
  type CloseCodeValue,
  type StreamKindValue,
} from '../protocol/index.js';
export { Forwarding, pullUrlPath, type ForwardingOptions, type PeerStreams, type PullRule, type StreamForwarding, type StreamPeer } from './forwarding/forwarding.js';
export { StreamRegistry, type StreamDirection, type InboundStream, type OutboundStream, type AnnouncedNode, type AnnouncedStream } from './forwarding/stream-origin.js';
export * from './relay/index.js';
