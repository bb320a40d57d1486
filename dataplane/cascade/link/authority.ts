/**
 * What a cascade server asks of the control plane. Implemented by the control plane
 * (database of client records); the data plane only calls it.
 */

import type { RegistrationVerdict } from './auth-throttle.js';

/** An authentication request, from a client's HELLO. */
export interface AuthenticateRequest {
  /** The secret the client presented, or null when it has none. Never log it. */
  secret: string | null;
  /** The client's node name from HELLO (1-128 chars; not unique, not trusted). */
  name: string;
  /** The client program's version from HELLO. */
  version: string;
  /** Remote IP address of the link (no port). */
  remoteAddress: string;
  /** Remote UDP port of the link. */
  remotePort: number;
  /**
   * Call right before creating a record for this caller (auto-registration): counts it
   * against the server's registration limits, or says it must be refused (then answer
   * with CloseCode.RegistrationLimited and the verdict's retryAfterMs).
   */
  admitRegistration(): RegistrationVerdict;
}

/** Accepted: the link belongs to this client record. */
interface AuthenticateOk {
  ok: true;
  /** Client record id (stable: the same secret gives the same id next time). */
  clientId: number;
  /** The record's name (e.g. the HELLO name made unique on autoregister). */
  name: string;
  /** True when the record was created by this request (autoregister). */
  registered?: boolean;
}

/**
 * Refused. `code` should come from the catalogue (CloseCode.AuthUnknownSecret,
 * AuthSecretRequired, AuthWrongSecret, AuthFailed, RegistrationLimited); `reason` is sent to the client and
 * logged there as is — use the catalogue's reason (closeReason(code)) or a more
 * specific one, never anything secret.
 */
interface AuthenticateRefused {
  ok: false;
  code: number;
  reason: string;
  /** When the client may try again (sent in REJECT). */
  retryAfterMs?: number;
}

/** The authority's decision. */
export type AuthenticateResult = AuthenticateOk | AuthenticateRefused;

/** Link facts passed to {@link CascadeAuthority.linkUp}. */
export interface LinkUpInfo {
  remoteAddress: string;
  remotePort: number;
  /** The client program's version. */
  version: string;
  connectedSince: Date;
  /** True when this link replaced a live one of the same record (no linkDown was called for that one). */
  replaced: boolean;
}

/** Link facts passed to {@link CascadeAuthority.linkDown}. */
export interface LinkDownInfo {
  /** Close code (catalogue or transport code ≥ 0x100). */
  code: number;
  reason: string;
  /** True when the peer closed or died, false when this server closed it. */
  remote: boolean;
  lastSeen: Date;
}

/**
 * The control plane's side of the cascade server. Calls for one client record are
 * serialized (linkUp before linkDown, never two at once); a throwing call is logged
 * and does not affect the link (except authenticate: the link is closed with
 * InternalError).
 */
export interface CascadeAuthority {
  /** Decide whether a HELLO is accepted, and for which client record. */
  authenticate(req: AuthenticateRequest): Promise<AuthenticateResult>;
  /** The record's link is up (also after a replacement: status, ip, updated_time). */
  linkUp(clientId: number, info: LinkUpInfo): Promise<void>;
  /** The record has no live link any more. */
  linkDown(clientId: number, info: LinkDownInfo): Promise<void>;
}
