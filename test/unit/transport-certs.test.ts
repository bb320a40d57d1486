// TLS identity helpers: self-signed certificates BoringSSL accepts, fingerprints, persistence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fingerprintOfPem,
  generateSelfSignedIdentity,
  IDENTITY_CERT_FILE,
  IDENTITY_KEY_FILE,
  loadOrCreateIdentity,
  requireFingerprint,
} from '../../dataplane/transport/index.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

test('generateSelfSignedIdentity: CA:TRUE, keyCertSign, DNS SANs', async () => {
  const id = await generateSelfSignedIdentity('node-a');
  const cert = new X509Certificate(id.certPem);
  // (Node's X509Certificate.ca reads false here although the extension says CA:TRUE; the
  // handshake tests prove BoringSSL accepts the certificate as its own trust anchor.)
  assert.ok(cert.checkIssued(cert));
  assert.ok(cert.verify(cert.publicKey));
  assert.match(cert.subjectAltName ?? '', /DNS:stream-cascade/);
  assert.match(cert.subjectAltName ?? '', /DNS:localhost/);
  assert.match(cert.subject, /CN=node-a/);
  assert.match(id.keyPem, /PRIVATE KEY/);
});

test('fingerprintOfPem: sha256 of the DER, lowercase hex', async () => {
  const id = await generateSelfSignedIdentity('node-b');
  const fp = fingerprintOfPem(id.certPem);
  assert.match(fp, /^sha256:[0-9a-f]{64}$/);
  const colonUpper = new X509Certificate(id.certPem).fingerprint256;
  assert.equal(requireFingerprint(`sha256:${colonUpper}`), fp);
  assert.equal(requireFingerprint(fp.toUpperCase()), fp);
  assert.throws(() => requireFingerprint('sha256:abcd'), /invalid fingerprint/);
});

test('loadOrCreateIdentity writes once (key 0600) and reads back the same identity', async () => {
  const dir = tempDir('transport-certs-');
  try {
    const sub = join(dir, 'data');
    const first = await loadOrCreateIdentity(sub);
    const st = await stat(join(sub, IDENTITY_KEY_FILE));
    assert.equal(st.mode & 0o777, 0o600);
    await stat(join(sub, IDENTITY_CERT_FILE));
    const second = await loadOrCreateIdentity(sub);
    assert.deepEqual(second, first);
  } finally {
    removeDir(dir);
  }
});
