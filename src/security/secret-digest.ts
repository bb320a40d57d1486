/**
 * How lower nodes' secrets are stored (docs/SECURITY.md, "Stored secrets"):
 * HMAC-SHA-256, keyed with this installation's key (datadir/secret-hmac.key), of the
 * domain-separated SHA-256 of the secret. A leaked database alone does not allow
 * guessing secrets offline; lookups stay deterministic (one HMAC per connect).
 *
 * Rows written before this scheme hold the plain SHA-256 (scheme "sha256"); since the
 * HMAC is taken over that hash they are converted at start without knowing the
 * secrets ({@link SecretDigest.fromLegacy}).
 */
import { createHash, createHmac } from 'node:crypto';

/** Scheme names stored in `cascade_client.secret_scheme`. */
export const SECRET_SCHEME = 'hmac-sha256';
export const LEGACY_SECRET_SCHEME = 'sha256';

/** The pre-HMAC stored value: SHA-256 with a domain prefix. */
export function legacySecretHash(secret: string): string {
  return createHash('sha256').update('stream-cascade/secret/v1\0').update(secret).digest('hex');
}

/** Keyed digests of secrets. */
export class SecretDigest {
  private readonly key: Buffer;

  /** `key`: the installation key (base64url text from the key file). */
  constructor(key: string) {
    this.key = Buffer.from(key, 'base64url');
  }

  /** The stored value for `secret`. */
  of(secret: string): string {
    return this.fromLegacy(legacySecretHash(secret));
  }

  /** The stored value for a row that holds the legacy hash. */
  fromLegacy(legacyHash: string): string {
    return createHmac('sha256', this.key).update(legacyHash).digest('hex');
  }

  /** A value that tells this key from another without revealing it (kept in the database). */
  keyCheck(): string {
    return createHmac('sha256', this.key).update('stream-cascade/secret-key-check/v1').digest('hex');
  }
}
