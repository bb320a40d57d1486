/**
 * TLS identities for the cascade link: self-signed certificates that
 * BoringSSL accepts (CA:TRUE with keyCertSign), their fingerprints, and a
 * persisted identity in a data directory.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';

import type { TlsIdentity } from './link.js';
import { normalizeFingerprint, type Fingerprint } from '../protocol/fingerprint.js';

/** File names of a persisted identity inside its directory. */
export const IDENTITY_CERT_FILE = 'cascade-cert.pem';
export const IDENTITY_KEY_FILE = 'cascade-key.pem';

/**
 * Generate a self-signed EC P-256 certificate valid for 10 years, with DNS
 * SANs "stream-cascade" and "localhost" (the client's default server name is
 * "stream-cascade"). CA:TRUE + keyCertSign so that BoringSSL accepts it as its
 * own trust anchor.
 */
export async function generateSelfSignedIdentity(commonName = 'stream-cascade'): Promise<TlsIdentity> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + 10 * 365 * 24 * 3600_000);
  // Loaded only when a certificate is made: it is a large module the node rarely needs.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'stream-cascade' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}

/** "sha256:hex" (lowercase) of a DER certificate. */
export function fingerprintOfDer(der: Uint8Array): string {
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** "sha256:hex" (lowercase) of the first certificate in a PEM string. */
export function fingerprintOfPem(certPem: string): string {
  return fingerprintOfDer(new X509Certificate(certPem).raw);
}

/**
 * A configured fingerprint in canonical form ({@link normalizeFingerprint} of the
 * protocol); throws on anything that is not a SHA-256 fingerprint.
 */
export function requireFingerprint(fingerprint: string): Fingerprint {
  const fp = normalizeFingerprint(fingerprint);
  if (fp === null) throw new Error(`invalid fingerprint "${fingerprint}": expected "sha256:" and 64 hex digits`);
  return fp;
}

/**
 * Read `dir/cascade-cert.pem` and `dir/cascade-key.pem`, or generate a
 * self-signed identity and write it there (key with mode 0600). Creates `dir`.
 */
export async function loadOrCreateIdentity(dir: string, commonName = 'stream-cascade'): Promise<TlsIdentity> {
  const certPath = join(dir, IDENTITY_CERT_FILE);
  const keyPath = join(dir, IDENTITY_KEY_FILE);
  try {
    const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    fingerprintOfPem(certPem); // throws on a corrupt certificate
    return { certPem, keyPem };
  } catch (e) {
    if (!(e instanceof Error && 'code' in e && e.code === 'ENOENT')) throw e;
  }
  const identity = await generateSelfSignedIdentity(commonName);
  await mkdir(dir, { recursive: true });
  await writeFile(keyPath, identity.keyPem, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(certPath, identity.certPem, { mode: 0o644 });
  return identity;
}
