import type { Logger } from 'pino';
import { LinkClosedError, type ConnectOptions, type Link, type LinkCloseInfo } from '../../transport/link.js';
import { normalizeFingerprint } from '../../protocol/index.js';
import { CascadeError } from '../errors.js';
import { KnownServersFile } from './known-servers.js';

/** How the client verifies the server before it sends its secret (PROTOCOL.md §1). */
export interface CascadeServerVerification {
  /** PEM CA bundle: the server's chain must verify against it. */
  caPem?: string;
  /** Pinned "sha256:HEX" of the server's leaf certificate. */
  fingerprint?: string;
  /** Trust-on-first-use store (used only when neither caPem nor fingerprint is set). */
  knownServersFile?: string;
}

/**
 * How a refused connect() ended: LinkClosedError, or any transport error carrying a
 * LinkCloseInfo as `info` (the lean transport's LinkConnectError).
 */
export function closeInfoOfError(err: unknown): LinkCloseInfo | null {
  if (err instanceof LinkClosedError) return err.info;
  if (typeof err === 'object' && err !== null && 'info' in err) {
    const info: unknown = err.info;
    if (typeof info === 'object' && info !== null && 'code' in info && typeof info.code === 'number') {
      const reason = 'reason' in info && typeof info.reason === 'string' ? info.reason : '';
      return { code: info.code, reason, remote: 'remote' in info && info.remote === true };
    }
  }
  return null;
}

/** The client's server verification: CA and/or pin through the transport, else TOFU. */
export class ServerVerifier {
  /** Canonical pinned fingerprint, if configured. */
  readonly pin: string | null;
  private readonly caPem: string | null;
  private readonly knownServers: KnownServersFile | null;

  /** Throws CascadeError(CASCADE_CONFIG) for an invalid pin or no way to verify. */
  constructor(
    private readonly key: string,
    verify: CascadeServerVerification,
  ) {
    if (verify.fingerprint !== undefined) {
      this.pin = normalizeFingerprint(verify.fingerprint);
      if (!this.pin) throw new CascadeError('CASCADE_CONFIG', `cascade-client.fingerprint is not a sha256 fingerprint: ${verify.fingerprint}`);
    } else {
      this.pin = null;
    }
    this.caPem = verify.caPem ?? null;
    if (!this.caPem && !this.pin && !verify.knownServersFile) {
      throw new CascadeError('CASCADE_CONFIG', 'cascade client: no way to verify the server (set a CA file, a fingerprint, or a known-servers file)');
    }
    this.knownServers = !this.caPem && !this.pin && verify.knownServersFile ? new KnownServersFile(verify.knownServersFile) : null;
  }

  /** How the server is verified. */
  get mode(): 'pin' | 'ca' | 'tofu' {
    return this.pin ? 'pin' : this.caPem ? 'ca' : 'tofu';
  }

  /**
   * Options for Transport.connect: the CA and the pin, checked during the handshake; with
   * a CA the certificate must be valid for `host`, the name or address dialled.
   */
  connectOptions(host: string): Pick<ConnectOptions, 'caPem' | 'fingerprint' | 'verifyHost'> {
    return { ...(this.caPem ? { caPem: this.caPem, verifyHost: host } : {}), ...(this.pin ? { fingerprint: this.pin } : {}) };
  }

  /** Plain-text reason for a pin mismatch reported by the transport. */
  pinMismatchReason(): string {
    return `server ${this.key} does not present the pinned certificate ${this.pin ?? ''} (cascade-client.fingerprint)`;
  }

  /**
   * Check an established link before anything is sent on it. Returns null when the
   * server is verified, else the error text (which says how to fix it).
   */
  async verify(link: Link, seen: string | null, logger: Logger): Promise<string | null> {
    if (this.pin) {
      return seen === this.pin ? null : `server ${this.key} presented certificate ${seen ?? '(none)'} but cascade-client.fingerprint pins ${this.pin}`;
    }
    if (!this.knownServers) return null; // verified against the CA by the transport
    if (!seen) return `server ${this.key} presented no certificate`;
    let res;
    try {
      res = await this.knownServers.check(this.key, seen);
    } catch (err) {
      logger.error({ err, file: this.knownServers.path }, 'cannot use the known-servers file');
      return `cannot use the known-servers file ${this.knownServers.path}: ${(err as Error).message}`;
    }
    if (res.status === 'added') {
      logger.warn({ fingerprint: seen, file: this.knownServers.path, remote: link.remoteAddress }, 'trusting the server certificate on first use');
      return null;
    }
    if (res.status === 'trusted') return null;
    const firstSeen = res.comment ? ` (${res.comment})` : '';
    return (
      `server ${this.key} presented certificate ${seen} but ${res.trusted} is trusted${firstSeen}. ` +
      `If the server's certificate was changed on purpose, delete the line for ${this.key} from ${this.knownServers.path}, ` +
      `or set cascade-client.fingerprint to ${seen}.`
    );
  }
}
