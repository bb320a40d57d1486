// Stress reproduction of the quiche 0.18 bare-FIN race (not part of `npm test`; run it by hand):
//   REPLY=60000 MAXDELAY=2 npx tsx test/integration/transport-fin-stress.ts [rounds] [lateStreams] [bulkStreams]
// Env: REPLY (reply bytes, 2000), MAXDELAY (ms before end(), 0 = two turns; 5), SERVER_CAP (server
// maxPacketsPerTurn, 64), RELAY_DELAY / LOSS (through the userspace impairment relay), DOWNLOAD
// (bulk streams download this many bytes instead of echoing 256 KiB).
// Measured on 2 shared cores, `10 100 30` with REPLY=60000 MAXDELAY=2: before the fix 2-5 lost per
// 600-1000 late streams; after it 0 of 2000.
// Each round: one link; `bulkStreams` echo streams of 256 KiB keep data and ACKs flowing while
// `lateStreams` request/reply streams end late: the server reads the whole request and the
// client's FIN, writes a reply, waits a few ms (the reply is acknowledged and the held-back byte
// released), then calls end() — a bare FIN. A client read that never returns null is a lost FIN.
import { randomBytes } from 'node:crypto';
import { createLeanQuicTransport, generateSelfSignedIdentity, type LinkStream } from '../../dataplane/transport/index.js';
import { readAll, sleep, within } from './transport-helpers.js';
import { startUdpImpairment } from '../helpers/netns.js';

const rounds = Number(process.argv[2] ?? 10);
const lateStreams = Number(process.argv[3] ?? 60);
const bulkStreams = Number(process.argv[4] ?? 20);
const LATE_BOUND_MS = 4_000;
const REPLY = Number(process.env.REPLY ?? 2000);
const MAXDELAY = Number(process.env.MAXDELAY ?? 5);

const transport = createLeanQuicTransport();
const serverTransport = createLeanQuicTransport({ maxPacketsPerTurn: Number(process.env.SERVER_CAP ?? 64) });
const identity = await generateSelfSignedIdentity('fin-stress');

async function serveEcho(s: LinkStream): Promise<void> {
  for (let c = await s.read(); c !== null; c = await s.read()) await s.write(c);
  await s.end();
}

const listener = await serverTransport.listen({
  host: '127.0.0.1',
  port: 0,
  tls: identity,
  onConnection(link) {
    link.onStream = (s) => {
      // The client tags each stream by its first byte: 'L' late end, anything else echo.
      void (async () => {
        try {
          const first = await s.read();
          if (first === null) return void (await s.end());
          if (first[0] === 0x4c) {
            const delay = first[1] ?? 3;
            // Put the first chunk back in front: re-read the rest and reply.
            const rest = await readAll(s);
            await s.write(Buffer.concat([first, rest, randomBytes(REPLY)]));
            if (delay === 0) await new Promise((r) => setImmediate(() => setImmediate(r)));
            else await sleep(delay);
            await s.end();
          } else if (first[0] === 0x44) {
            await readAll(s);
            await s.write(randomBytes(DOWNLOAD));
            await s.end();
          } else {
            await s.write(first);
            await serveEcho(s);
          }
        } catch {
          // counted on the client side
        }
      })();
    };
  },
});

const RELAY_DELAY = Number(process.env.RELAY_DELAY ?? 0);
const DOWNLOAD = Number(process.env.DOWNLOAD ?? 0);
const relay = RELAY_DELAY > 0 ? await startUdpImpairment({ target: { host: '127.0.0.1', port: listener.address.port }, delayMs: RELAY_DELAY, lossRate: Number(process.env.LOSS ?? 0) }) : null;
const port = relay?.port ?? listener.address.port;
let totalLost = 0;
let totalLate = 0;
const t0 = Date.now();
for (let r = 0; r < rounds; r++) {
  const link = await within(
    transport.connect({ host: '127.0.0.1', port, caPem: identity.certPem }),
    5_000,
    'connect',
  );
  const bulk = Array.from({ length: bulkStreams }, () => {
    const p = randomBytes(DOWNLOAD > 0 ? 10 : 256 * 1024);
    p[0] = DOWNLOAD > 0 ? 0x44 : 0x42;
    let got = 0;
    return within(
      (async () => {
        const s = await link.openStream();
        const back = (async () => {
          for (let c = await s.read(); c !== null; c = await s.read()) got += c.byteLength;
        })();
        await s.write(p);
        await s.end();
        await back;
      })(),
      15_000,
      'bulk',
    ).then(
      () => true,
      () => {
        process.stdout.write(`  bulk stream stuck with ${got} bytes back\n`);
        return false;
      },
    );
  });
  let lost = 0;
  const late = Array.from({ length: lateStreams }, async (_, i) => {
    await sleep(i % 20); // spread the ends over the bulk transfer
    const req = randomBytes(100 + (i % 7) * 300);
    req[0] = 0x4c;
    req[1] = i % (MAXDELAY + 1); // server-side delay before end(), ms
    const s = await link.openStream();
    const back = readAll(s);
    await s.write(req);
    await s.end();
    try {
      await within(back, LATE_BOUND_MS, 'late reply');
    } catch {
      lost++;
    }
  });
  await Promise.all(late);
  const bulkOk = (await Promise.all(bulk)).filter(Boolean).length;
  totalLost += lost;
  totalLate += lateStreams;
  process.stdout.write(`round ${r}: late streams without FIN ${lost}/${lateStreams}, bulk ok ${bulkOk}/${bulkStreams}\n`);
  await link.close();
}
process.stdout.write(`total: ${totalLost}/${totalLate} late streams lost their FIN in ${rounds} rounds (${Date.now() - t0} ms)\n`);
await relay?.close();
await listener.close();
process.exit(0);
