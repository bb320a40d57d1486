/**
 * The raw-transport reference of bench/cascade.ts (not a test): one lean QUIC stream
 * between two processes on 127.0.0.1 carrying the same traffic shape as the cascade
 * (`count` writes of `size` bytes every 1/fps s), so that the cascade's CPU per Mbit/s
 * can be set against the transport's in the same run.
 *
 *   tsx bench/cascade-transport.ts recv            # prints {"port":N,"certPem":"..."} then {"bytes":N} per second
 *   tsx bench/cascade-transport.ts send PORT COUNT SIZE FPS SECONDS   (cert PEM on stdin)
 */
import { createInterface } from 'node:readline';
import {
  createLeanQuicTransport,
  generateSelfSignedIdentity,
  type CongestionControl,
  type LinkStream,
} from '../dataplane/transport/index.js';

/** BENCH_CONGESTION, BENCH_MAXUDPPAYLOAD: the quic settings of both sides (default: the transport's). */
const cc = process.env.BENCH_CONGESTION as CongestionControl | undefined;
const payload = process.env.BENCH_MAXUDPPAYLOAD;
const transport = createLeanQuicTransport({
  ...(cc ? { congestionControl: cc } : {}),
  ...(payload ? { maxUdpPayloadBytes: Number(payload) } : {}),
});

const out = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

async function drain(s: LinkStream, count: (n: number) => void): Promise<void> {
  for (let c = await s.read(); c !== null; c = await s.read()) count(c.byteLength);
}

async function recv(): Promise<void> {
  const id = await generateSelfSignedIdentity('bench');
  let bytes = 0;
  const listener = await transport.listen({
    host: '127.0.0.1',
    port: 0,
    tls: id,
    onConnection(link) {
      link.onStream = (s) => void drain(s, (n) => (bytes += n)).catch(() => undefined);
    },
  });
  out({ port: listener.address.port, certPem: id.certPem });
  const t = setInterval(() => out({ bytes }), 250);
  process.on('SIGTERM', () => {
    clearInterval(t);
    void listener.close().finally(() => process.exit(0));
  });
}

async function send(port: number, count: number, size: number, fps: number, seconds: number): Promise<void> {
  let caPem = '';
  for await (const line of createInterface({ input: process.stdin })) caPem += `${line}\n`;
  const link = await transport.connect({ host: '127.0.0.1', port, caPem });
  const stream = await link.openStream();
  const frame = new Uint8Array(size).fill(7);
  const deadline = Date.now() + seconds * 1000;
  let inFlight = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() > deadline) {
        clearInterval(timer);
        resolve();
        return;
      }
      // Like a hub subscriber: never more than a second of media waiting on the stream.
      if (inFlight > count * fps) return;
      for (let i = 0; i < count; i++) {
        inFlight++;
        void stream.write(frame).finally(() => inFlight--);
      }
    }, 1000 / fps);
  });
  await stream.end().catch(() => undefined);
  await link.close(0, 'done');
  process.exit(0);
}

const [role, ...rest] = process.argv.slice(2);
if (role === 'recv') await recv();
else if (role === 'send') await send(...(rest.map(Number) as [number, number, number, number, number]));
else throw new Error('usage: cascade-transport.ts recv | send PORT COUNT SIZE FPS SECONDS');
