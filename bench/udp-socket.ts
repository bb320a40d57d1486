/**
 * UDP socket benchmark (not a test): the per-datagram cost of the lean driver's two
 * socket implementations alone, without QUIC. The sender (this process) hands the
 * socket 64 datagrams of 1350 B per event-loop turn, as the connection's send loop
 * does; the receiver (a child process) counts them and reads one byte of each.
 * Figures: µs of CPU (user+system) per datagram on each side, datagrams per second,
 * and loss (the receiver's socket buffer is 4 MiB, as in the transport).
 *
 *   npm run bench:udp
 *   npm run bench:udp -- --count 300000 --rounds 3
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DatagramSocket } from '../dataplane/transport/datagram-socket.js';
import { openDatagramSocket } from '../dataplane/transport/udp-socket.js';
import { DEFAULT_UDP_ADDON_PATH } from '../dataplane/transport/udp-native-socket.js';

const SIZE = 1350;
const BATCH = 64;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function open(kind: 'native' | 'dgram'): Promise<DatagramSocket> {
  return openDatagramSocket({
    implementation: kind,
    addonPath: DEFAULT_UDP_ADDON_PATH,
    family: 4,
    host: '127.0.0.1',
    port: 0,
    bufferBytes: 4 * 1024 * 1024,
    onError: () => undefined,
    logger: null,
  });
}

async function receiver(kind: 'native' | 'dgram'): Promise<void> {
  const s = await open(kind);
  let n = 0;
  let sum = 0;
  let cpu = process.cpuUsage();
  s.onMessage = (msg) => {
    n++;
    sum += msg[0] ?? 0;
  };
  process.on('message', (m) => {
    if (m === 'start') {
      n = 0;
      cpu = process.cpuUsage();
      process.send?.('started');
    } else if (m === 'stop') {
      // Let the last datagrams in the socket buffer arrive first.
      setTimeout(() => {
        const c = process.cpuUsage(cpu);
        process.send?.({ n, cpuUs: c.user + c.system, sum });
      }, 300);
    } else if (m === 'exit') {
      void s.close().then(() => process.exit(0));
    }
  });
  process.send?.({ port: s.address().port });
}

function ask<T>(child: ReturnType<typeof fork>, msg: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(msg);
  });
}

async function sender(kind: 'native' | 'dgram', count: number): Promise<Record<string, number>> {
  const child = fork(fileURLToPath(import.meta.url), ['--receive', kind], { execArgv: ['--import', 'tsx'] });
  const { port } = await new Promise<{ port: number }>((r) => child.once('message', (m) => r(m as { port: number })));
  const s = await open(kind);
  await s.connect('127.0.0.1', port);
  const data = Buffer.alloc(SIZE * BATCH, 7);
  const lens = new Int32Array(BATCH).fill(SIZE);
  await ask(child, 'start');
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const turn = (): void => {
      // A fresh buffer while dgram still references the last one (as the connection does).
      const buf = s.sendBufferBusy() ? Buffer.alloc(SIZE * BATCH, 7) : data;
      s.sendBatch(buf, lens, BATCH, SIZE, null);
      sent += BATCH;
      if (sent >= count) resolve();
      else setImmediate(turn);
    };
    turn();
  });
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu);
  const rx = await ask<{ n: number; cpuUs: number }>(child, 'stop');
  const exited = new Promise((r) => child.once('exit', r));
  child.send('exit');
  await exited;
  await s.close();
  return {
    sendUs: (c.user + c.system) / sent,
    recvUs: rx.cpuUs / Math.max(1, rx.n),
    kpps: sent / seconds / 1000,
    lossPct: ((sent - rx.n) / sent) * 100,
  };
}

if (process.argv[2] === '--receive') {
  await receiver(process.argv[3] === 'native' ? 'native' : 'dgram');
} else {
  const count = Number(arg('count', '200000'));
  const rounds = Number(arg('rounds', '3'));
  process.stdout.write(`udp socket bench: ${count} datagrams of ${SIZE} B per run, ${BATCH} per turn, ${rounds} rounds alternating\n`);
  process.stdout.write('kind     send µs/dgram  recv µs/dgram  kpps sent  loss %\n');
  for (let r = 0; r < rounds; r++) {
    for (const kind of ['native', 'dgram'] as const) {
      const f = await sender(kind, count);
      process.stdout.write(
        `${kind.padEnd(8)} ${f.sendUs!.toFixed(2).padStart(13)}  ${f.recvUs!.toFixed(2).padStart(13)}  ${f.kpps!.toFixed(0).padStart(9)}  ${f.lossPct!.toFixed(1).padStart(6)}\n`,
      );
    }
  }
}
