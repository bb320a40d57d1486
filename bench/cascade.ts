/**
 * Cascade forwarding benchmark (not a test): N synthetic streams at a given bitrate
 * published over RTMP at an edge, autopushed edge → region → HQ on loopback (three
 * node processes), read back over HTTP-FLV.
 *
 *   npm run bench:cascade                                   # N = 10, 50, 100 at 2000 kbit/s
 *   npm run bench:cascade -- --streams 1,10 --bitrate 4000 --seconds 8
 *   npm run bench:cascade -- --streams 50 --cpu-prof /tmp/prof   # node --cpu-prof on each node
 *   options: --congestion bbr|cubic|reno and --maxudppayload BYTES (the nodes' quic settings and
 *   the reference's; 8952 is for loopback/jumbo paths only), --sample K,
 *   --transport-only (only the transport reference)
 *
 * Every video tag carries the bench's clock (performance.now(), float64) and its frame
 * number in its payload. HQ is read for every stream (arrival ratio); the edge and the
 * region only for the first K streams (`--sample`, default 10) so that readers and the
 * bench's own FLV parsing stay a small share of the nodes' and the machine's CPU. A
 * hop's added latency is computed per tag (same stream, same frame, one clock): read
 * time at the upper level − read time at the lower level.
 *
 * Per N, in the same run, the raw transport reference (bench/cascade-transport.ts): one
 * lean QUIC stream between two fresh processes carrying the same bytes in the same shape
 * (N writes of one frame every 1/25 s); its sender's and receiver's CPU per Mbit/s are
 * what each node's CPU per forwarded Mbit/s is set against: the edge only sends, HQ only
 * receives, the region does both. A node's figure also holds its media-server work
 * (RTMP in at the edge, HTTP-FLV out to the bench's readers): that is part of a node's
 * cost per forwarded byte, and the reason the readers are sampled.
 *
 * Offered = what the publishers actually sent in the window (their timer runs late on a
 * busy machine). Goals (printed as met/missed): everything arrives at HQ (≥ 99 % of it),
 * p99 added latency per hop ≤ 50 ms, and per node CPU per forwarded Mbit/s ≤ 1.5 × the
 * transport's (send, send+receive, receive).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FlvDemuxer } from '../dataplane/media/index.js';
import { RawRtmpClient } from '../test/integration/media-helpers.js';
import { startProcessNode, writeConfig, type ProcessNode } from '../test/helpers/process-node.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const STREAMS = arg('streams', '10,50,100').split(',').map(Number);
const BITRATE_KBPS = Number(arg('bitrate', '2000'));
const SECONDS = Number(arg('seconds', '6'));
const SAMPLE = Number(arg('sample', '10'));
const CONGESTION = arg('congestion', '');
const MAX_UDP_PAYLOAD = arg('maxudppayload', '');
const PROF_DIR = arg('cpu-prof', '');
const FPS = 25;
const GOP = 50;
const WARMUP_MS = 2_000;
const MAX_STREAMS = 100;
/** Node start (tsx compiles the program on a busy shared machine) and link-up bound, ms. */
const STARTUP_MS = 90_000;
const FRAME_BYTES = Math.max(32, Math.round((BITRATE_KBPS * 1000) / 8 / FPS));
const GOAL_ARRIVAL = 0.99;
const GOAL_HOP_P99_MS = 50;
const GOAL_CPU_RATIO = 1.5;
const out = (s: string): void => void process.stdout.write(`${s}\n`);

if (STREAMS.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_STREAMS)) {
  throw new Error(`--streams takes counts from 1 to ${MAX_STREAMS}`);
}

async function freePort(udp: boolean): Promise<number> {
  if (udp) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const p = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return p;
  }
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const p = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return p;
}

/** utime + stime of a process, seconds. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(parts[11]) + Number(parts[12])) / 100;
}

/** UDP datagrams sent by the whole machine (all processes: a diagnostic only). */
function udpOutDatagrams(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('OutDatagrams')]);
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** One synthetic publisher over RTMP: AVC header, then a video tag every 1/FPS s carrying the clock and frame number. */
async function publish(port: number, name: string): Promise<{ tick(n: number): void; close(): void }> {
  const c = await RawRtmpClient.connect(port);
  const sid = await c.open('bench');
  c.command(sid, 'publish', 5, null, name, 'live');
  await c.until(() => c.statusCodes().includes('NetStream.Publish.Start'), 5_000, 'Publish.Start');
  c.send({ csid: 6, type: 9, streamId: sid, timestamp: 0, payload: Uint8Array.from([0x17, 0, 0, 0, 0, 1, 0x42, 0, 0x1e, 0xff, 0xe0, 0, 0]) });
  return {
    tick(n: number) {
      const body = new Uint8Array(FRAME_BYTES);
      body[0] = n % GOP === 0 ? 0x17 : 0x27;
      body[1] = 1;
      const dv = new DataView(body.buffer);
      dv.setFloat64(5, performance.now(), false);
      dv.setUint32(13, n, false);
      c.send({ csid: 6, type: 9, streamId: sid, timestamp: Math.round((n * 1000) / FPS), payload: body });
    },
    close: () => c.close(),
  };
}

interface Reader {
  /** Frame number → read time (performance.now()), while counting. */
  seen: Map<number, number>;
  /** Latency (read time − clock in the tag) of every tag read while counting. */
  lat: number[];
  bytes(): number;
  stop(): void;
}

/** HTTP-FLV reader. With `parse` false it only counts bytes (HQ readers of unsampled streams). */
function read(url: string, state: { counting: boolean }, parse: boolean): Reader {
  const seen = new Map<number, number>();
  const lat: number[] = [];
  let bytes = 0;
  const demux = new FlvDemuxer();
  const req = http.get(url, (res) => {
    res.on('data', (d: Buffer) => {
      const now = performance.now();
      if (state.counting) bytes += d.length;
      if (!parse) return;
      try {
        demux.push(new Uint8Array(d), (tag) => {
          if (!state.counting || tag.type !== 9 || tag.data.byteLength < 17 || tag.data[1] !== 1) return;
          const dv = new DataView(tag.data.buffer, tag.data.byteOffset);
          lat.push(now - dv.getFloat64(5, false));
          seen.set(dv.getUint32(13, false), now);
        });
      } catch {
        // not FLV: ignore
      }
    });
  });
  req.on('error', () => undefined);
  return { seen, lat, bytes: () => bytes, stop: () => req.destroy() };
}

/** Per tag: upper read time − lower read time, for frames read at both levels. */
function hopLatencies(lower: Reader[], upper: Reader[]): number[] {
  const d: number[] = [];
  lower.forEach((lo, i) => {
    for (const [frame, t] of lo.seen) {
      const u = upper[i]?.seen.get(frame);
      if (u !== undefined) d.push(u - t);
    }
  });
  return d;
}

const SELF_DIR = fileURLToPath(new URL('.', import.meta.url));

function spawnTransport(args: string[]): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(SELF_DIR, 'cascade-transport.ts'), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      ...(CONGESTION ? { BENCH_CONGESTION: CONGESTION } : {}),
      ...(MAX_UDP_PAYLOAD ? { BENCH_MAXUDPPAYLOAD: MAX_UDP_PAYLOAD } : {}),
    },
  });
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
}

interface TransportRef {
  mbps: number;
  sendCpuPct: number;
  recvCpuPct: number;
}

/**
 * The transport reference for N streams: one lean QUIC stream, N writes of one frame
 * every 1/FPS s, warm-up then SECONDS measured; CPU of each process from /proc.
 */
async function measureTransport(n: number): Promise<TransportRef> {
  const recv = spawnTransport(['recv']);
  try {
    const hello = JSON.parse(String((await recv.lines.next()).value)) as { port: number; certPem: string };
    let bytes = 0;
    const reading = (async () => {
      for (;;) {
        const l = await recv.lines.next();
        if (l.done === true) return;
        bytes = (JSON.parse(String(l.value)) as { bytes: number }).bytes;
      }
    })();
    const send = spawnTransport(['send', String(hello.port), String(n), String(FRAME_BYTES), String(FPS), String(SECONDS + WARMUP_MS / 1000 + 1)]);
    send.child.stdin!.end(hello.certPem);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const c0 = [cpuSeconds(send.child.pid!), cpuSeconds(recv.child.pid!)];
    const b0 = bytes;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const secs = (performance.now() - t0) / 1000;
    const c1 = [cpuSeconds(send.child.pid!), cpuSeconds(recv.child.pid!)];
    const mbps = ((bytes - b0) * 8) / secs / 1e6;
    await new Promise<void>((r) => send.child.once('exit', () => r()));
    recv.child.kill('SIGTERM');
    await reading;
    return { mbps, sendCpuPct: ((c1[0]! - c0[0]!) / secs) * 100, recvCpuPct: ((c1[1]! - c0[1]!) / secs) * 100 };
  } finally {
    if (recv.child.exitCode === null) recv.child.kill('SIGKILL');
  }
}

interface Row {
  n: number;
  offered: number;
  delivered: number;
  edgeLat: number[];
  hop1: number[];
  hop2: number[];
  cpu: number[]; // hq, region, edge (% of one core)
  benchCpu: number;
  datagramsPerMB: number;
  load: number;
  ref: TransportRef;
  /** Warn/error log messages of the nodes during the step, with counts. */
  warnings: string[];
}

async function main(): Promise<void> {
  if (process.argv.includes('--transport-only')) {
    for (const n of STREAMS) {
      const ref = await measureTransport(n);
      out(`transport reference ${n} × ${FRAME_BYTES} B every ${1000 / FPS} ms: ${f1(ref.mbps)} of ${f1((n * FRAME_BYTES * FPS * 8) / 1e6)} Mbit/s, CPU % send ${f1(ref.sendCpuPct)} / receive ${f1(ref.recvCpuPct)} (load average ${loadavg()[0]!.toFixed(1)})`);
    }
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'bench-cascade-'));
  const procs: ProcessNode[] = [];
  const stopAll = async (): Promise<void> => {
    for (const p of procs.reverse()) await p.stop('SIGTERM', 5_000).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  };
  const abort = setTimeout(() => {
    out('bench aborted: time limit');
    void stopAll().then(() => process.exit(1));
  }, 60_000 + STREAMS.length * 90_000);
  const rows: Row[] = [];
  try {
    const [hqQuic, regionQuic, hqHttp, regionHttp, edgeHttp, edgeRtmp] = [
      await freePort(true), await freePort(true), await freePort(false), await freePort(false), await freePort(false), await freePort(false),
    ];
    const node = (name: string, httpPort: number, extra: Record<string, unknown>): string =>
      writeConfig(join(tmp, `${name}.yaml`), {
        name,
        datadir: join(tmp, name),
        http: { listenaddr: `127.0.0.1:${httpPort}` },
        rtmp: { listenaddr: `127.0.0.1:${name === 'edge' ? edgeRtmp : 0}`, maxperaddress: 0 }, // every publisher comes from loopback
        log: { level: 'info' },
        quic: { ...(CONGESTION ? { congestion: CONGESTION } : {}), ...(MAX_UDP_PAYLOAD ? { maxudppayload: Number(MAX_UDP_PAYLOAD) } : {}) },
        ...extra,
      });
    const flags = (name: string): { nodeFlags: string[] } => ({ nodeFlags: PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${join(PROF_DIR, name)}`] : [] });
    procs.push(await startProcessNode(node('hq', hqHttp, { 'cascade-server': { quic: { listenaddr: `127.0.0.1:${hqQuic}` } } }), STARTUP_MS, flags('hq')));
    procs.push(
      await startProcessNode(
        node('region', regionHttp, {
          'cascade-server': { quic: { listenaddr: `127.0.0.1:${regionQuic}` } },
          'cascade-client': { server: `127.0.0.1:${hqQuic}`, autopush: true },
        }),
        STARTUP_MS,
        flags('region'),
      ),
    );
    procs.push(
      await startProcessNode(node('edge', edgeHttp, { 'cascade-client': { server: `127.0.0.1:${regionQuic}`, autopush: true } }), STARTUP_MS, flags('edge')),
    );
    const [, region, edge] = procs as [ProcessNode, ProcessNode, ProcessNode];
    await edge.waitLog((l) => l.msg === 'cascade link online', STARTUP_MS);
    await region.waitLog((l) => l.msg === 'cascade link online', STARTUP_MS);

    out(
      `cascade forwarding: synthetic ${BITRATE_KBPS} kbit/s streams (${FPS} fps, GOP ${GOP}, ${FRAME_BYTES} B tags), edge → region → HQ on 127.0.0.1, ` +
        `${SECONDS} s measured after ${WARMUP_MS / 1000} s; edge/region read for ${SAMPLE} streams, HQ for all` +
        (CONGESTION ? `; quic.congestion ${CONGESTION}` : '') +
        (MAX_UDP_PAYLOAD ? `; quic.maxudppayload ${MAX_UDP_PAYLOAD}` : ''),
    );
    for (const n of STREAMS) {
      const logMarks = procs.map((p) => p.lines.length);
      const pubs = await Promise.all(Array.from({ length: n }, (_, i) => publish(edgeRtmp, `s${i}`)));
      let frame = 0;
      const timer = setInterval(() => {
        for (const p of pubs) p.tick(frame);
        frame++;
      }, 1000 / FPS);
      try {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const r = (await (await fetch(`http://127.0.0.1:${hqHttp}/api/stream/list`)).json()) as { data: { path: string }[] };
          if (r.data.filter((s) => s.path.startsWith('bench/')).length >= n) break;
          if (Date.now() > deadline) throw new Error(`only ${r.data.length} of ${n} streams reached HQ`);
          await new Promise((r2) => setTimeout(r2, 200));
        }
        const state = { counting: false };
        const k = Math.min(SAMPLE, n);
        const at = (base: number, parseAll: boolean, count: number): Reader[] =>
          Array.from({ length: count }, (_, i) => read(`http://127.0.0.1:${base}/bench/s${i}.flv`, state, parseAll || i < k));
        const edgeR = at(edgeHttp, true, k);
        const regionR = at(regionHttp, true, k);
        const hqR = at(hqHttp, false, n);
        await new Promise((r) => setTimeout(r, WARMUP_MS));
        const cpu0 = procs.map((p) => cpuSeconds(p.child.pid!));
        const self0 = process.cpuUsage();
        const udp0 = udpOutDatagrams();
        const t0 = performance.now();
        const frame0 = frame;
        state.counting = true;
        await new Promise((r) => setTimeout(r, SECONDS * 1000));
        state.counting = false;
        const secs = (performance.now() - t0) / 1000;
        // What was published in the window (the bench's timer runs late on a busy machine).
        const published = (frame - frame0) * n * FRAME_BYTES;
        const cpu = procs.map((p, i) => ((cpuSeconds(p.child.pid!) - cpu0[i]!) / secs) * 100);
        const selfUse = process.cpuUsage(self0);
        const udp = udpOutDatagrams() - udp0;
        const hqBytes = hqR.reduce((a, r) => a + r.bytes(), 0);
        rows.push({
          n,
          offered: (published * 8) / secs / 1e6,
          delivered: (hqBytes * 8) / secs / 1e6,
          edgeLat: edgeR.flatMap((r) => r.lat),
          hop1: hopLatencies(edgeR, regionR),
          hop2: hopLatencies(regionR, hqR),
          cpu,
          benchCpu: ((selfUse.user + selfUse.system) / 1e6 / secs) * 100,
          datagramsPerMB: udp / ((hqBytes * 2) / 1e6),
          load: loadavg()[0]!,
          ref: { mbps: 0, sendCpuPct: 0, recvCpuPct: 0 },
          warnings: warningsSince(procs, logMarks),
        });
        for (const r of [...edgeR, ...regionR, ...hqR]) r.stop();
      } finally {
        clearInterval(timer);
        for (const p of pubs) p.close();
      }
      await new Promise((r) => setTimeout(r, 1500));
      // The reference runs while the cascade is idle (its streams are unpublished).
      rows[rows.length - 1]!.ref = await measureTransport(n);
      print(rows[rows.length - 1]!);
    }
  } finally {
    clearTimeout(abort);
    await stopAll();
  }
  summary(rows);
}

function warningsSince(procs: ProcessNode[], marks: number[]): string[] {
  const counts = new Map<string, number>();
  procs.forEach((p, i) => {
    for (const l of p.lines.slice(marks[i])) {
      if (typeof l.level !== 'number' || l.level < 40) continue;
      const key = `${['hq', 'region', 'edge'][i]}: ${String(l.msg)}${l.reason ? ` (${String(l.reason).slice(0, 60)})` : ''}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  });
  return [...counts].map(([k, c]) => `${c} × ${k}`);
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED');

/** CPU % per Mbit/s of each node and of its transport reference: hq ↔ receive, region ↔ both, edge ↔ send. */
function perMbit(r: Row): { node: number[]; ref: number[] } {
  const send = r.ref.sendCpuPct / r.ref.mbps;
  const recv = r.ref.recvCpuPct / r.ref.mbps;
  return { node: r.cpu.map((c) => c / r.delivered), ref: [recv, send + recv, send] };
}

function print(r: Row): void {
  const { node, ref } = perMbit(r);
  const names = ['hq', 'region', 'edge'];
  const arrival = r.delivered / r.offered;
  const hopP99 = [percentile(r.hop1, 99), percentile(r.hop2, 99)];
  out(`\n== ${r.n} streams (load average ${r.load.toFixed(1)})`);
  out(`offered ${f1(r.offered)} Mbit/s, at HQ ${f1(r.delivered)} Mbit/s: arrival ${(arrival * 100).toFixed(1)} %  [goal ≥ ${GOAL_ARRIVAL * 100} %: ${mark(arrival >= GOAL_ARRIVAL)}]`);
  out(`latency edge (RTMP in → HTTP-FLV out) p50/p99 ${f1(percentile(r.edgeLat, 50))} / ${f1(percentile(r.edgeLat, 99))} ms`);
  out(
    `added per hop p50/p99: hop 1 (edge → region) ${f1(percentile(r.hop1, 50))} / ${f1(hopP99[0]!)} ms, ` +
      `hop 2 (region → HQ) ${f1(percentile(r.hop2, 50))} / ${f1(hopP99[1]!)} ms  [goal p99 ≤ ${GOAL_HOP_P99_MS} ms: ${mark(hopP99.every((x) => x <= GOAL_HOP_P99_MS))}]`,
  );
  out(
    `transport reference (1 lean QUIC stream, ${r.n} × ${FRAME_BYTES} B every ${1000 / FPS} ms): ${f1(r.ref.mbps)} Mbit/s, ` +
      `CPU % send ${f1(r.ref.sendCpuPct)} / receive ${f1(r.ref.recvCpuPct)} → ${f2(r.ref.sendCpuPct / r.ref.mbps)} / ${f2(r.ref.recvCpuPct / r.ref.mbps)} % per Mbit/s`,
  );
  names.forEach((name, i) => {
    const ratio = node[i]! / ref[i]!;
    out(
      `  ${name.padEnd(6)} CPU ${f1(r.cpu[i]!)} % → ${f2(node[i]!)} % per forwarded Mbit/s vs transport ${f2(ref[i]!)} ` +
        `(${['receive', 'send+receive', 'send'][i]}) = ${f2(ratio)}×  [goal ≤ ${GOAL_CPU_RATIO}×: ${mark(ratio <= GOAL_CPU_RATIO)}]`,
    );
  });
  for (const w of r.warnings.slice(0, 8)) out(`  log: ${w}`);
  out(`bench process CPU ${f1(r.benchCpu)} %; UDP datagrams (machine-wide) per forwarded MB per hop: ${f1(r.datagramsPerMB)}`);
}

function summary(rows: Row[]): void {
  out('\nstreams | offered Mbit/s | at HQ Mbit/s (arrival) | hop 1 p50/p99 ms | hop 2 p50/p99 ms | CPU % hq / region / edge | % per Mbit/s hq / region / edge | transport % per Mbit/s send / recv | node ÷ transport hq / region / edge | load');
  out('---|---|---|---|---|---|---|---|---|---');
  for (const r of rows) {
    const { node, ref } = perMbit(r);
    out(
      `${r.n} | ${f1(r.offered)} | ${f1(r.delivered)} (${((r.delivered / r.offered) * 100).toFixed(0)} %) | ` +
        `${f1(percentile(r.hop1, 50))} / ${f1(percentile(r.hop1, 99))} | ${f1(percentile(r.hop2, 50))} / ${f1(percentile(r.hop2, 99))} | ` +
        `${r.cpu.map((c) => c.toFixed(0)).join(' / ')} | ${node.map(f2).join(' / ')} | ` +
        `${f2(r.ref.sendCpuPct / r.ref.mbps)} / ${f2(r.ref.recvCpuPct / r.ref.mbps)} | ${node.map((x, i) => f1(x / ref[i]!)).join(' / ')} | ${r.load.toFixed(1)}`,
    );
  }
}

await main();
