// Child process for the transport tests: a peer that the test kills with SIGKILL.
// Usage: transport-peer.fixture.ts client <port> | server <certPemFile> <keyPemFile>
import { readFileSync } from 'node:fs';
import { defaultTransport } from '../../dataplane/transport/index.js';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'client') {
  const link = await defaultTransport.connect({ host: '127.0.0.1', port: Number(a) });
  const s = await link.openStream();
  await s.write(Buffer.from('alive'));
  process.stdout.write('ready\n');
} else if (mode === 'server' && a !== undefined && b !== undefined) {
  const listener = await defaultTransport.listen({
    host: '127.0.0.1',
    port: 0,
    tls: { certPem: readFileSync(a, 'utf8'), keyPem: readFileSync(b, 'utf8') },
    onConnection: () => process.stdout.write('connected\n'),
  });
  process.stdout.write(`port ${listener.address.port}\n`);
} else {
  process.exit(2);
}
// Stay alive until killed (bounded, in case the test dies first).
setTimeout(() => process.exit(0), 30_000);
