/**
 * Transport benchmark (not a test): the lean QUIC transport against plain TCP
 * (node:net), two processes on 127.0.0.1. The server runs in a child process
 * so CPU and event-loop figures are per side.
 *
 *   npm run bench:transport
 *   npm run bench:transport -- --mb 200 --rtt 3000 --streams 50 --only tcp,quic-lean,quic-lean-8952
 *   npm run bench:transport -- --only quic-lean-cubic,quic-lean-bbr   # the client's congestion control
 *   npm run bench:transport -- --only tcp,quic-lean-native,quic-lean-dgram   # the default: UDP socket of both sides
 *   (or BENCH_MB=… BENCH_RTT=… BENCH_STREAMS=… BENCH_ONLY=…)
 *
 * Per transport: throughput of one stream and of N concurrent streams (each
 * checked by sha256 on the receiving side), round trip p50/p99 of 100-byte
 * messages, CPU seconds per GB on each side (process.cpuUsage, includes the
 * receiver's sha256), event-loop delay p99 on each side during the transfers
 * (perf_hooks.monitorEventLoopDelay). QUIC figures are also printed as ratios
 * against TCP. quic-highlevel is the package's QUICServer/QUICClient/QUICStream
 * (web streams), driven directly here for comparison only, with a smaller
 * transfer (--hlmb, default 4 MB; --hlrtt round trips) since it moves a few MB/s.
 * quic-lean-native / quic-lean-dgram: the lean driver over the native UDP batch socket
 * (recvmmsg/sendmmsg/GSO) or over node:dgram, on both sides (the server child listens
 * with each); plain quic-lean lets both sides pick (`udp: auto`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes, timingSafeEqual, webcrypto } from 'node:crypto';
import { QUICClient, QUICServer, events as quicEvents, type QUICStream } from '@matrixai/quic';
// @matrixai/quic's own logger package (a dependency of it): only to silence its INFO lines.
import Logger, { LogLevel } from '@matrixai/logger';
import net from 'node:net';
import { cpus } from 'node:os';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  createLeanQuicTransport,
  generateSelfSignedIdentity,
  type CongestionControl,
  type Link,
  type LinkStream,
  type UdpImplementation,
} from '../dataplane/transport/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : (process.env[`BENCH_${name.toUpperCase()}`] ?? fallback);
}

const CHUNK = 64 * 1024;
const BLOCK = 1024 * 1024;
const MODE_HASH = 0x48; // 'H': read to end, answer the sha256 hex
const MODE_ECHO = 0x45; // 'E': echo every byte

// ---------------------------------------------------------------- server side

interface Mark {
  cpu: NodeJS.CpuUsage;
  eld: IntervalHistogram;
}

function startMark(): Mark {
  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  return { cpu: process.cpuUsage(), eld };
}

function endMark(m: Mark): { cpuS: number; eldP99Ms: number } {
  m.eld.disable();
  const cpu = process.cpuUsage(m.cpu);
  return { cpuS: (cpu.user + cpu.system) / 1e6, eldP99Ms: m.eld.percentile(99) / 1e6 };
}

/** A byte-stream view shared by TCP sockets and QUIC streams. */
interface Duplex {
  read(): Promise<Uint8Array | null>;
  write(b: Uint8Array): Promise<void>;
  end(): Promise<void>;
}

async function serveDuplex(d: Duplex): Promise<void> {
  const first = await d.read();
  if (first === null || first.byteLength === 0) return;
  if (first[0] === MODE_ECHO) {
    if (first.byteLength > 1) await d.write(first.subarray(1));
    for (let c = await d.read(); c !== null; c = await d.read()) await d.write(c);
    await d.end();
    return;
  }
  const h = createHash('sha256').update(first.subarray(1));
  for (let c = await d.read(); c !== null; c = await d.read()) h.update(c);
  await d.write(Buffer.from(h.digest('hex')));
  await d.end();
}

function tcpDuplex(sock: net.Socket): Duplex {
  const queue: Buffer[] = [];
  let ended = false;
  let waiter: (() => void) | null = null;
  sock.on('data', (b: Buffer) => {
    queue.push(b);
    if (queue.length > 64) sock.pause();
    waiter?.();
  });
  sock.on('end', () => {
    ended = true;
    waiter?.();
  });
  sock.on('error', () => {
    ended = true;
    waiter?.();
  });
  return {
    async read() {
      for (;;) {
        const b = queue.shift();
        if (b !== undefined) {
          if (queue.length < 16) sock.resume();
          return b;
        }
        if (ended) return null;
        await new Promise<void>((r) => (waiter = r));
        waiter = null;
      }
    },
    write(b) {
      return new Promise((resolve, reject) => {
        if (sock.destroyed) reject(new Error('socket closed'));
        else if (sock.write(b)) resolve();
        else sock.once('drain', resolve);
      });
    },
    end() {
      return new Promise((resolve) => sock.end(resolve));
    },
  };
}

/** The package's high-level QUICStream (web streams) as a Duplex. */
function webDuplex(stream: QUICStream): Duplex {
  const reader = stream.readable.getReader();
  const writer = stream.writable.getWriter();
  return {
    async read() {
      const r = await reader.read();
      return r.done ? null : r.value;
    },
    write: (b) => writer.write(b),
    end: () => writer.close(),
  };
}

const hmacKey = randomBytes(32);
const serverCryptoOps = {
  async sign(key: ArrayBuffer, data: ArrayBuffer): Promise<ArrayBuffer> {
    const mac = createHmac('sha256', Buffer.from(key)).update(Buffer.from(data)).digest();
    return mac.buffer.slice(mac.byteOffset, mac.byteOffset + mac.byteLength);
  },
  async verify(key: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer): Promise<boolean> {
    const mac = createHmac('sha256', Buffer.from(key)).update(Buffer.from(data)).digest();
    const other = Buffer.from(sig);
    return other.byteLength === mac.byteLength && timingSafeEqual(mac, other);
  },
};

/** The package's high-level server (tuned: 4 MiB windows are not applied by the package, see the notes). */
async function startHighLevelServer(id: { certPem: string; keyPem: string }): Promise<{ port: number; stop(): Promise<void> }> {
  const server = new QUICServer({
    crypto: { key: hmacKey.buffer.slice(hmacKey.byteOffset, hmacKey.byteOffset + 32), ops: serverCryptoOps },
    config: { key: id.keyPem, cert: id.certPem, verifyPeer: false, maxIdleTimeout: 10_000, keepAliveIntervalTime: 1_000 },
    logger: new Logger('quic-highlevel-server', LogLevel.WARN),
  });
  server.addEventListener(quicEvents.EventQUICServerConnection.name, (evt: Event) => {
    if (!(evt instanceof quicEvents.EventQUICServerConnection)) return;
    evt.detail.addEventListener(quicEvents.EventQUICConnectionStream.name, (e: Event) => {
      if (!(e instanceof quicEvents.EventQUICConnectionStream)) return;
      const stream = e.detail;
      void serveDuplex(webDuplex(stream)).catch(() => undefined);
    });
  });
  await server.start({ host: '127.0.0.1', port: 0 });
  return { port: server.port, stop: () => server.stop({ force: true }) };
}

async function runServer(): Promise<void> {
  const id = JSON.parse(process.env.BENCH_TLS ?? '{}') as { certPem: string; keyPem: string };
  const tcp = net.createServer({ noDelay: true, allowHalfOpen: true }, (sock) => {
    sock.setNoDelay(true);
    void serveDuplex(tcpDuplex(sock)).catch(() => sock.destroy());
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const listenLean = (udp: UdpImplementation) =>
    createLeanQuicTransport({ udp }).listen({
      host: '127.0.0.1',
      port: 0,
      tls: id,
      onConnection(link) {
        link.onStream = (s) => void serveDuplex(s).catch(() => s.reset(1));
      },
    });
  const quic = await listenLean('auto');
  const quicNative = await listenLean('native').catch(() => null);
  const quicDgram = await listenLean('dgram');
  const highLevel = await startHighLevelServer(id);
  let mark: Mark | null = null;
  process.on('message', (msg: unknown) => {
    if (msg === 'mark') {
      mark = startMark();
      process.send?.('marked');
    } else if (msg === 'report' && mark !== null) {
      process.send?.({ report: endMark(mark) });
    } else if (msg === 'exit') {
      void Promise.all([quic.close(), quicNative?.close(), quicDgram.close(), highLevel.stop()]).finally(() => tcp.close(() => process.exit(0)));
    }
  });
  const tcpAddr = tcp.address();
  process.send?.({
    ports: {
      tcp: typeof tcpAddr === 'object' && tcpAddr ? tcpAddr.port : 0,
      quic: quic.address.port,
      quicNative: quicNative?.address.port ?? 0,
      quicDgram: quicDgram.address.port,
      highLevel: highLevel.port,
    },
  });
}

// ---------------------------------------------------------------- client side

interface Opener {
  name: string;
  open(): Promise<Duplex>;
  close(): Promise<void>;
}

async function tcpOpener(port: number): Promise<Opener> {
  return {
    name: 'tcp',
    async open() {
      const sock = net.connect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true });
      await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
      return tcpDuplex(sock);
    },
    async close() {},
  };
}

async function quicOpener(
  name: string,
  port: number,
  caPem: string,
  payload: number,
  cc: CongestionControl | null,
  udp: UdpImplementation,
): Promise<Opener> {
  if (port === 0) throw new Error(`${name}: the server child has no such listener (native UDP addon not built?)`);
  const transport = createLeanQuicTransport({ maxUdpPayloadBytes: payload, udp, ...(cc !== null ? { congestionControl: cc } : {}) });
  const link: Link = await transport.connect({ host: '127.0.0.1', port, caPem });
  return {
    name,
    open: (): Promise<LinkStream> => link.openStream(),
    close: () => link.close(0, 'bench done'),
  };
}

async function highLevelOpener(port: number, caPem: string): Promise<Opener> {
  const client = await QUICClient.createQUICClient({
    host: '127.0.0.1',
    port,
    serverName: 'stream-cascade',
    crypto: {
      ops: {
        async randomBytes(data: ArrayBuffer): Promise<void> {
          webcrypto.getRandomValues(new Uint8Array(data));
        },
      },
    },
    config: { ca: caPem, verifyPeer: true, maxIdleTimeout: 10_000, keepAliveIntervalTime: 1_000 },
    logger: new Logger('quic-highlevel-client', LogLevel.WARN),
  });
  return {
    name: 'quic-highlevel',
    open: async () => webDuplex(client.connection.newStream()),
    close: () => client.destroy({ force: true }),
  };
}

class ServerChild {
  private readonly child: ChildProcess;
  private readonly waiters: ((m: unknown) => void)[] = [];
  constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (m) => this.waiters.shift()?.(m));
  }
  next(): Promise<unknown> {
    return new Promise((r) => this.waiters.push(r));
  }
  async ask(msg: string): Promise<unknown> {
    const p = this.next();
    this.child.send(msg);
    return p;
  }
  async exit(): Promise<void> {
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send('exit');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await done;
    clearTimeout(t);
  }
}

interface SideFigures {
  cpuS: number;
  eldP99Ms: number;
}

function isReport(m: unknown): m is { report: SideFigures } {
  return typeof m === 'object' && m !== null && 'report' in m;
}

async function measured<T>(server: ServerChild, fn: () => Promise<T>): Promise<{ value: T; client: SideFigures; server: SideFigures; seconds: number }> {
  await server.ask('mark');
  const mark = startMark();
  const t0 = performance.now();
  const value = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const client = endMark(mark);
  const rep = await server.ask('report');
  if (!isReport(rep)) throw new Error('bad report from server');
  return { value, client, server: rep.report, seconds };
}

/** Send `bytes` of the block pattern on one duplex in hash mode; resolves once the server's digest matches. */
async function sendHashed(open: Opener, block: Buffer, bytes: number, expected: string): Promise<void> {
  const d = await open.open();
  const reply = (async () => {
    const parts: Uint8Array[] = [];
    for (let c = await d.read(); c !== null; c = await d.read()) parts.push(c);
    return Buffer.concat(parts).toString();
  })();
  await d.write(Buffer.from([MODE_HASH]));
  for (let off = 0; off < bytes; off += CHUNK) {
    const at = off % BLOCK;
    await d.write(block.subarray(at, at + Math.min(CHUNK, bytes - off)));
  }
  await d.end();
  const digest = await reply;
  if (digest !== expected) throw new Error(`${open.name}: sha256 mismatch: got ${digest}, expected ${expected}`);
}

function expectedDigest(block: Buffer, bytes: number): string {
  const h = createHash('sha256');
  for (let off = 0; off < bytes; off += CHUNK) {
    const at = off % BLOCK;
    h.update(block.subarray(at, at + Math.min(CHUNK, bytes - off)));
  }
  return h.digest('hex');
}

async function rtt(open: Opener, count: number): Promise<{ p50Us: number; p99Us: number }> {
  const d = await open.open();
  await d.write(Buffer.from([MODE_ECHO]));
  const msg = randomBytes(100);
  const samples: number[] = [];
  let pending = Buffer.alloc(0);
  for (let i = 0; i < count + 200; i++) {
    const t0 = performance.now();
    await d.write(msg);
    while (pending.byteLength < 100) {
      const c = await d.read();
      if (c === null) throw new Error('echo ended early');
      pending = Buffer.concat([pending, c]);
    }
    if (!pending.subarray(0, 100).equals(msg)) throw new Error(`${open.name}: echo corrupted`);
    pending = pending.subarray(100);
    if (i >= 200) samples.push((performance.now() - t0) * 1000);
  }
  await d.end();
  samples.sort((a, b) => a - b);
  const pct = (p: number): number => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] ?? 0;
  return { p50Us: pct(50), p99Us: pct(99) };
}

interface Row {
  name: string;
  oneMBs: number;
  manyMBs: number;
  p50Us: number;
  p99Us: number;
  cpuClientSPerGB: number;
  cpuServerSPerGB: number;
  eldClientP99Ms: number;
  eldServerP99Ms: number;
}

async function benchOne(open: Opener, server: ServerChild, mb: number, streams: number, rttCount: number): Promise<Row> {
  const block = randomBytes(BLOCK);
  const bytes = mb * 1e6;
  const perStream = Math.ceil(bytes / streams / CHUNK) * CHUNK;
  const [oneDigest, manyDigest] = [expectedDigest(block, bytes), expectedDigest(block, perStream)];
  await sendHashed(open, block, 4 * CHUNK, expectedDigest(block, 4 * CHUNK)); // warm-up
  const one = await measured(server, () => sendHashed(open, block, bytes, oneDigest));
  const many = await measured(server, () =>
    Promise.all(Array.from({ length: streams }, () => sendHashed(open, block, perStream, manyDigest))),
  );
  const lat = await rtt(open, rttCount);
  const gb = (bytes + perStream * streams) / 1e9;
  return {
    name: open.name,
    oneMBs: bytes / 1e6 / one.seconds,
    manyMBs: (perStream * streams) / 1e6 / many.seconds,
    p50Us: lat.p50Us,
    p99Us: lat.p99Us,
    cpuClientSPerGB: (one.client.cpuS + many.client.cpuS) / gb,
    cpuServerSPerGB: (one.server.cpuS + many.server.cpuS) / gb,
    eldClientP99Ms: Math.max(one.client.eldP99Ms, many.client.eldP99Ms),
    eldServerP99Ms: Math.max(one.server.eldP99Ms, many.server.eldP99Ms),
  };
}

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

function print(rows: Row[], streams: number): void {
  const tcp = rows.find((r) => r.name === 'tcp');
  const cols: [string, (r: Row) => number, number][] = [
    ['1 stream MB/s', (r) => r.oneMBs, 1],
    [`${streams} streams MB/s`, (r) => r.manyMBs, 1],
    ['RTT p50 µs', (r) => r.p50Us, 0],
    ['RTT p99 µs', (r) => r.p99Us, 0],
    ['CPU s/GB client', (r) => r.cpuClientSPerGB, 2],
    ['CPU s/GB server', (r) => r.cpuServerSPerGB, 2],
    ['ELD p99 ms client', (r) => r.eldClientP99Ms, 1],
    ['ELD p99 ms server', (r) => r.eldServerP99Ms, 1],
  ];
  const header = ['metric', ...rows.map((r) => r.name), ...(tcp ? rows.filter((r) => r !== tcp).map((r) => `${r.name}/tcp`) : [])];
  const lines = [header];
  for (const [label, get, digits] of cols) {
    const line = [label, ...rows.map((r) => fmt(get(r), digits))];
    if (tcp) {
      for (const r of rows.filter((x) => x !== tcp)) {
        const ratio = get(r) / (get(tcp) || 1);
        line.push(`${ratio < 0.1 ? ratio.toPrecision(2) : fmt(ratio, 2)}x`);
      }
    }
    lines.push(line);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  for (const l of lines) process.stdout.write(`${l.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ')}\n`);
  for (const q of rows.filter((r) => r.name.startsWith('quic-lean'))) {
    const eld = Math.max(q.eldClientP99Ms, q.eldServerP99Ms);
    // [label, value, target, met]; throughput targets are ratios to TCP in this run.
    const targets: [string, number, number, boolean][] = [
      ['RTT p50 µs <= 250', q.p50Us, 250, q.p50Us <= 250],
      ['RTT p99 µs <= 1000', q.p99Us, 1000, q.p99Us <= 1000],
      ['ELD p99 ms <= 20 (worst side)', eld, 20, eld <= 20],
    ];
    if (tcp !== undefined) {
      const one = q.oneMBs / (tcp.oneMBs || 1);
      const many = q.manyMBs / (tcp.manyMBs || 1);
      targets.unshift(
        ['1 stream >= 0.25x TCP', one, 0.25, one >= 0.25],
        [`${streams} streams >= 0.25x TCP`, many, 0.25, many >= 0.25],
      );
    }
    process.stdout.write(`\n${q.name} against the line-rate goals:\n`);
    for (const [label, value, target, ok] of targets) {
      const delta = ((value - target) / target) * 100;
      const shown = target < 1 ? fmt(value, 3) : fmt(value, 1);
      process.stdout.write(`  ${ok ? 'met   ' : 'MISSED'} ${label}: ${shown} (${delta >= 0 ? '+' : ''}${fmt(delta, 0)} % vs target)\n`);
    }
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--serve') {
    await runServer();
    return;
  }
  const mb = Number(arg('mb', '200'));
  const streams = Number(arg('streams', '50'));
  const rttCount = Number(arg('rtt', '3000'));
  // quic-lean-8952: the same driver with 8952-byte datagrams (client to server), loopback/jumbo only.
  // quic-highlevel (a few MB/s) and the 8952-byte variants are opt-in.
  const only = arg('only', 'tcp,quic-lean-native,quic-lean-dgram').split(',');
  const hlMb = Number(arg('hlmb', '4'));
  const hlRtt = Number(arg('hlrtt', '300'));
  const id = await generateSelfSignedIdentity('bench');
  // BENCH_PROF=dir: CPU profiles of the server child too (run the client with node --cpu-prof).
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_TLS: JSON.stringify(id) },
  });
  const server = new ServerChild(child);
  const hello = await server.next();
  if (typeof hello !== 'object' || hello === null || !('ports' in hello)) throw new Error('server did not start');
  const ports = (hello as { ports: { tcp: number; quic: number; quicNative: number; quicDgram: number; highLevel: number } }).ports;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `transport bench: ${mb} MB per test, ${streams} streams, ${rttCount} round trips of 100 B; node ${process.version}, ${cpus().length} x ${cpu}\n` +
      'CPU s/GB counts each process over both transfer tests (the receiver also hashes with sha256).\n\n',
  );
  const rows: Row[] = [];
  const timeout = setTimeout(() => {
    process.stderr.write('bench: 4 minute limit reached, aborting\n');
    child.kill('SIGKILL');
    process.exit(1);
  }, 240_000);
  try {
    for (const name of only) {
      // quic-lean[-native|-dgram][-PAYLOAD][-cubic|-reno|-bbr]: UDP socket (both sides), the
      // client's (sender's) datagram size and congestion control.
      const lean = /^quic-lean(?:-(native|dgram))?(?:-(\d+))?(?:-(cubic|reno|bbr))?$/.exec(name);
      const udp = (lean?.[1] as 'native' | 'dgram' | undefined) ?? 'auto';
      const open =
        name === 'tcp'
          ? await tcpOpener(ports.tcp)
          : name === 'quic-highlevel'
            ? await highLevelOpener(ports.highLevel, id.certPem)
            : await quicOpener(
                name,
                udp === 'native' ? ports.quicNative : udp === 'dgram' ? ports.quicDgram : ports.quic,
                id.certPem,
                lean?.[2] !== undefined ? Number(lean[2]) : 1350,
                (lean?.[3] as CongestionControl | undefined) ?? null,
                udp,
              );
      // The high-level API moves a few MB/s: a smaller transfer keeps the run short (figures are rates).
      const slow = name === 'quic-highlevel';
      try {
        rows.push(await benchOne(open, server, slow ? hlMb : mb, streams, slow ? hlRtt : rttCount));
      } finally {
        await open.close();
      }
    }
  } finally {
    clearTimeout(timeout);
    await server.exit();
  }
  print(rows, streams);
}

await main();
