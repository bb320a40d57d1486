/**
 * Cascade forwarding benchmark (not a test): N synthetic streams at a given bitrate
 * published over RTMP at an edge, autopushed edge → region → HQ on loopback (three
 * node processes), read back over HTTP-FLV at each level.
 *
 *   npm run bench:cascade                                  # N = 1, 10, 50 at 2000 kbit/s
 *   npm run bench:cascade -- --streams 1,10 --bitrate 4000 --seconds 8
 *
 * Every video tag carries the bench's clock (performance.now(), float64) in its
 * payload, so the latency of a tag read at a level is measured on one clock. Prints
 * one row per N: offered and delivered Mbit/s at HQ (two hops), latency at the edge
 * (RTMP in → HTTP-FLV out, no hop), added latency per hop (p50/p99), and the CPU %
 * (of one core) of each node process over the measure window, and of the bench process
 * itself (publishers, 3 readers per stream, FLV parsing): when that one nears 100 %, the
 * bench, not the cascade, is the limit.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FlvDemuxer } from '../dataplane/media/index.js';
import { RawRtmpClient } from '../test/integration/media-helpers.js';
import { startProcessNode, writeConfig, type ProcessNode } from '../test/helpers/process-node.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const STREAMS = arg('streams', '1,10,50').split(',').map(Number);
const BITRATE_KBPS = Number(arg('bitrate', '2000'));
const SECONDS = Number(arg('seconds', '6'));
const FPS = 25;
const GOP = 50;
const WARMUP_MS = 2_000;
const out = (s: string): void => void process.stdout.write(`${s}\n`);

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

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** One synthetic publisher over RTMP: AVC header, then a video tag every 1/FPS s carrying the clock. */
async function publish(port: number, name: string): Promise<{ tick(n: number): void; close(): void }> {
  const c = await RawRtmpClient.connect(port);
  const sid = await c.open('bench');
  c.command(sid, 'publish', 5, null, name, 'live');
  await c.until(() => c.statusCodes().includes('NetStream.Publish.Start'), 5_000, 'Publish.Start');
  c.send({ csid: 6, type: 9, streamId: sid, timestamp: 0, payload: Uint8Array.from([0x17, 0, 0, 0, 0, 1, 0x42, 0, 0x1e, 0xff, 0xe0, 0, 0]) });
  const size = Math.max(32, Math.round((BITRATE_KBPS * 1000) / 8 / FPS));
  return {
    tick(n: number) {
      const body = new Uint8Array(size);
      body[0] = n % GOP === 0 ? 0x17 : 0x27;
      body[1] = 1;
      new DataView(body.buffer).setFloat64(5, performance.now(), false);
      c.send({ csid: 6, type: 9, streamId: sid, timestamp: Math.round((n * 1000) / FPS), payload: body });
    },
    close: () => c.close(),
  };
}

/** HTTP-FLV reader: latency of every video tag (after `countFrom`), bytes. */
function read(url: string, state: { counting: boolean }): { lat: number[]; bytes: () => number; stop(): void } {
  const lat: number[] = [];
  let bytes = 0;
  const demux = new FlvDemuxer();
  const req = http.get(url, (res) => {
    res.on('data', (d: Buffer) => {
      const now = performance.now();
      if (state.counting) bytes += d.length;
      try {
        demux.push(new Uint8Array(d), (tag) => {
          if (!state.counting || tag.type !== 9 || tag.data.byteLength < 13 || tag.data[1] !== 1) return;
          lat.push(now - new DataView(tag.data.buffer, tag.data.byteOffset).getFloat64(5, false));
        });
      } catch {
        // not FLV: ignore
      }
    });
  });
  req.on('error', () => undefined);
  return { lat, bytes: () => bytes, stop: () => req.destroy() };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'bench-cascade-'));
  const procs: ProcessNode[] = [];
  const stopAll = async (): Promise<void> => {
    for (const p of procs.reverse()) await p.stop('SIGTERM', 5_000).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  };
  const abort = setTimeout(() => {
    out('bench aborted after 5 minutes');
    void stopAll().then(() => process.exit(1));
  }, 300_000);
  try {
    const [hqQuic, regionQuic, hqHttp, regionHttp, edgeHttp, edgeRtmp] = [
      await freePort(true), await freePort(true), await freePort(false), await freePort(false), await freePort(false), await freePort(false),
    ];
    const node = (name: string, httpPort: number, extra: Record<string, unknown>): string =>
      writeConfig(join(tmp, `${name}.yaml`), {
        name,
        datadir: join(tmp, name),
        http: { listenaddr: `127.0.0.1:${httpPort}` },
        rtmp: { listenaddr: `127.0.0.1:${name === 'edge' ? edgeRtmp : 0}` },
        log: { level: 'info' },
        ...extra,
      });
    procs.push(await startProcessNode(node('hq', hqHttp, { 'cascade-server': { quic: { listenaddr: `127.0.0.1:${hqQuic}` } } })));
    procs.push(await startProcessNode(node('region', regionHttp, {
      'cascade-server': { quic: { listenaddr: `127.0.0.1:${regionQuic}` } },
      'cascade-client': { server: `127.0.0.1:${hqQuic}`, autopush: true },
    })));
    procs.push(await startProcessNode(node('edge', edgeHttp, { 'cascade-client': { server: `127.0.0.1:${regionQuic}`, autopush: true } })));
    const [hq, region, edge] = procs as [ProcessNode, ProcessNode, ProcessNode];
    await edge.waitLog((l) => l.msg === 'cascade link online', 20_000);
    await region.waitLog((l) => l.msg === 'cascade link online', 20_000);

    out(`cascade forwarding: synthetic ${BITRATE_KBPS} kbit/s streams (${FPS} fps, GOP ${GOP}), edge → region → HQ on 127.0.0.1, ${SECONDS} s measured after ${WARMUP_MS / 1000} s`);
    out('streams | offered Mbit/s | delivered at HQ Mbit/s | edge latency p50/p99 ms | +hop1 p50/p99 ms | +hop2 p50/p99 ms | CPU % hq / region / edge | CPU % bench (publishers + readers)');
    for (const n of STREAMS) {
      const pubs = await Promise.all(Array.from({ length: n }, (_, i) => publish(edgeRtmp, `s${i}`)));
      let frame = 0;
      const timer = setInterval(() => {
        for (const p of pubs) p.tick(frame);
        frame++;
      }, 1000 / FPS);
      // wait until every stream is at HQ
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = (await (await fetch(`http://127.0.0.1:${hqHttp}/api/stream/list`)).json()) as { data: { path: string }[] };
        if (r.data.filter((s) => s.path.startsWith('bench/')).length >= n) break;
        if (Date.now() > deadline) throw new Error(`only ${r.data.length} of ${n} streams reached HQ`);
        await new Promise((r2) => setTimeout(r2, 200));
      }
      const state = { counting: false };
      const readers = pubs.flatMap((_, i) => [
        read(`http://127.0.0.1:${edgeHttp}/bench/s${i}.flv`, state),
        read(`http://127.0.0.1:${regionHttp}/bench/s${i}.flv`, state),
        read(`http://127.0.0.1:${hqHttp}/bench/s${i}.flv`, state),
      ]);
      await new Promise((r) => setTimeout(r, WARMUP_MS));
      const cpu0 = procs.map((p) => cpuSeconds(p.child.pid!));
      const self0 = process.cpuUsage();
      const t0 = performance.now();
      state.counting = true;
      await new Promise((r) => setTimeout(r, SECONDS * 1000));
      state.counting = false;
      const secs = (performance.now() - t0) / 1000;
      const cpu = procs.map((p, i) => ((cpuSeconds(p.child.pid!) - cpu0[i]!) / secs) * 100);
      const selfUse = process.cpuUsage(self0);
      const selfPct = ((selfUse.user + selfUse.system) / 1e6 / secs) * 100;
      clearInterval(timer);
      const level = (k: number): number[] => readers.filter((_, i) => i % 3 === k).flatMap((r) => r.lat);
      const [l0, l1, l2] = [level(0), level(1), level(2)];
      const hqBytes = readers.filter((_, i) => i % 3 === 2).reduce((a, r) => a + r.bytes(), 0);
      const f = (x: number): string => x.toFixed(1);
      out(
        `${n} | ${f((n * BITRATE_KBPS) / 1000)} | ${f((hqBytes * 8) / secs / 1e6)} | ${f(percentile(l0, 50))} / ${f(percentile(l0, 99))} | ` +
          `${f(percentile(l1, 50) - percentile(l0, 50))} / ${f(percentile(l1, 99) - percentile(l0, 99))} | ` +
          `${f(percentile(l2, 50) - percentile(l1, 50))} / ${f(percentile(l2, 99) - percentile(l1, 99))} | ` +
          `${cpu.map((c) => c.toFixed(0)).join(' / ')} | ${selfPct.toFixed(0)}`,
      );
      for (const r of readers) r.stop();
      for (const p of pubs) p.close();
      await new Promise((r) => setTimeout(r, 1500));
    }
  } finally {
    clearTimeout(abort);
    await stopAll();
  }
}

await main();
