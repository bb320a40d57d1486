// Regression test for the quiche 0.18 bare-FIN race (see LeanStream.processWrites): a FIN written
// as a zero-length write after the reply, once the peer's FIN was read, must reach the peer even
// while other streams keep the congestion window full and ACKs arrive all the time.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  generateSelfSignedIdentity,
  type LinkStream,
  type TlsIdentity,
} from '../../dataplane/transport/index.js';
import type { LeanLinkListener } from '../../dataplane/transport/index.js';
import { readAll, sleep, within } from './transport-helpers.js';
import { testTransport } from './udp-under-test.js';

const transport = testTransport();
let identity: TlsIdentity;
let listener: LeanLinkListener;

const LATE = 0x4c; // first request byte: reply, wait request[1] ms, then end() (a bare FIN)
const BULK = 0x42; // first request byte: echo everything

async function serve(s: LinkStream): Promise<void> {
  const first = await s.read();
  if (first === null) return void (await s.end());
  if (first[0] === LATE) {
    const rest = await readAll(s); // the whole request, the client's FIN included
    await s.write(Buffer.concat([first, rest, randomBytes(60_000)]));
    const delay = first[1] ?? 0;
    if (delay === 0) await new Promise((r) => setImmediate(() => setImmediate(r)));
    else await sleep(delay); // the held-back last byte has left: end() writes a bare FIN
    await s.end();
    return;
  }
  await s.write(first);
  for (let c = await s.read(); c !== null; c = await s.read()) await s.write(c);
  await s.end();
}

before(async () => {
  identity = await generateSelfSignedIdentity('transport-fin-test');
  listener = await transport.listen({
    host: '127.0.0.1',
    port: 0,
    tls: identity,
    onConnection(link) {
      link.onStream = (s) => void serve(s).catch(() => undefined);
    },
  });
});

after(async () => {
  await listener.close();
});

test('a late end() (bare FIN) reaches the peer while other streams fill the window', async () => {
  const ROUNDS = 3;
  const LATE_STREAMS = 100;
  const BULK_STREAMS = 30;
  let lost = 0;
  let bulkFailed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const link = await within(
      transport.connect({ host: '127.0.0.1', port: listener.address.port, caPem: identity.certPem }),
      5_000,
      'connect',
    );
    try {
      const bulk = Array.from({ length: BULK_STREAMS }, async () => {
        const payload = randomBytes(256 * 1024);
        payload[0] = BULK;
        const s = await link.openStream();
        const back = readAll(s);
        await s.write(payload);
        await s.end();
        return (await back).byteLength === payload.byteLength;
      });
      const late = Array.from({ length: LATE_STREAMS }, async (_, i) => {
        await sleep(i % 20); // spread the late ends over the bulk transfer
        const req = randomBytes(100 + (i % 7) * 300);
        req[0] = LATE;
        req[1] = i % 3; // 0: two turns, else ms before end()
        const s = await link.openStream();
        const back = readAll(s);
        await s.write(req);
        await s.end();
        // Bounded: a stream whose FIN was lost would wait forever.
        const got = await within(back, 4_000, 'reply end').catch(() => null);
        if (got === null) lost++;
        else assert.equal(got.byteLength, req.byteLength + 60_000);
      });
      await Promise.all(late);
      const bulkOk = await within(Promise.all(bulk.map((b) => b.catch(() => false))), 15_000, 'bulk streams');
      bulkFailed += bulkOk.filter((ok) => !ok).length;
    } finally {
      await link.close();
    }
  }
  assert.equal(lost, 0, `${lost} of ${ROUNDS * LATE_STREAMS} late-ended streams never saw their FIN`);
  assert.equal(bulkFailed, 0, `${bulkFailed} bulk echo streams failed`);
});
