/**
 * Media fan-out benchmark (not a test): one stream published over RTMP
 * (ffmpeg `-c copy` of a generated 720p H.264/AAC file, looped in real time)
 * fanned out to N HTTP-FLV readers on loopback. The readers run in a child
 * process, so CPU % and RSS are the media node's own.
 *
 *   npm run bench:media                          # N = 1, 10, 50, 100
 *   npm run bench:media -- --readers 1,10 --seconds 5 --bitrate 3000
 *
 * Prints one row per N: readers, input kbit/s (hub's rolling bitrate, averaged), Mbit/s delivered (sum over
 * readers), CPU % of one core, RSS, readers that fell behind (skips/drops).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createFlvHandler, startRtmpServer, StreamHub } from '../dataplane/media/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const READERS = arg('readers', '1,10,50,100').split(',').map(Number);
const SECONDS = Number(arg('seconds', '8'));
const WARMUP_MS = 2_000;
const BITRATE_KBPS = Number(arg('bitrate', '3000'));
const PATH = 'live/bench';

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** Reader process: N HTTP-FLV GETs; after the warm-up counts bytes for the measure window; prints JSON. */
const READER_SCRIPT = `
const http = require('node:http');
const [url, n, warm, measure] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const bytes = new Array(Number(n)).fill(0);
let counting = false;
const reqs = [];
for (let i = 0; i < Number(n); i++) {
  const req = http.get(url, { agent }, (res) => res.on('data', (d) => { if (counting) bytes[i] += d.length; }));
  req.on('error', () => {});
  reqs.push(req);
}
setTimeout(() => { counting = true; }, Number(warm));
setTimeout(() => {
  counting = false;
  process.stdout.write(JSON.stringify({ total: bytes.reduce((a, b) => a + b, 0), min: Math.min(...bytes), max: Math.max(...bytes) }));
  for (const r of reqs) r.destroy();
  process.exit(0);
}, Number(warm) + Number(measure));
`;

async function main(): Promise<void> {
  if (spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status !== 0) {
    out('bench:media needs ffmpeg (apt-get install ffmpeg)');
    process.exitCode = 1;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-media-'));
  const file = join(dir, 'source.flv');
  out(`generating a 10 s 1280x720 25 fps H.264 (~${BITRATE_KBPS} kbit/s) + AAC source...`);
  const gen = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-vf', 'noise=alls=12:allf=t', '-pix_fmt', 'yuv420p',
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-b:v', `${BITRATE_KBPS}k`, '-maxrate', `${BITRATE_KBPS}k`, '-bufsize', `${BITRATE_KBPS * 2}k`,
    '-c:a', 'aac', '-b:a', '128k', '-t', '10', '-f', 'flv', file,
  ], { stdio: 'inherit' });
  if (gen.status !== 0) throw new Error('ffmpeg could not generate the source');

  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
  const hub = new StreamHub({ logger });
  const rtmp = await startRtmpServer({ hub, logger, host: '127.0.0.1', port: 0 });
  const flv = createFlvHandler({ hub, logger });
  const server = http.createServer((req, res) => {
    if (!flv.handleRequest(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${PATH}.flv`;
  const publisher: ChildProcess = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${rtmp.address.port}/${PATH}`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  let skipsTotal = 0;
  try {
    const t0 = Date.now();
    while (!hub.has(PATH)) {
      if (Date.now() - t0 > 10_000) throw new Error('the publisher did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2_500)); // let the bitrate settle and a GOP be cached
    out('');
    out(`node ${process.version}, ${SECONDS} s per step after ${WARMUP_MS / 1000} s warm-up, HTTP-FLV on loopback`);
    out('| readers | input kbit/s | delivered Mbit/s | per reader Mbit/s (min–max) | CPU % (1 core) | RSS MiB | skips | dropped |');
    out('|--------:|-------------:|-----------------:|----------------------------:|---------------:|--------:|------:|--------:|');
    for (const n of READERS) {
      const reader = spawn(process.execPath, ['-e', READER_SCRIPT, url, String(n), String(WARMUP_MS), String(SECONDS * 1000)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let json = '';
      reader.stdout?.on('data', (d: Buffer) => (json += d.toString()));
      const connected = Date.now();
      while (hub.subscribers(PATH).length < n && Date.now() - connected < 10_000) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, WARMUP_MS));
      const cpu0 = process.cpuUsage();
      const wall0 = process.hrtime.bigint();
      let rssMax = process.memoryUsage().rss;
      const inputSamples: number[] = [];
      const sampler = setInterval(() => {
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
        inputSamples.push(hub.get(PATH)?.bitrateKbps ?? 0);
      }, 200);
      await new Promise((r) => setTimeout(r, SECONDS * 1000 - 300));
      const wallUs = Number(process.hrtime.bigint() - wall0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      clearInterval(sampler);
      const subs = hub.subscribers(PATH);
      const skips = subs.reduce((a, x) => a + x.skips, 0);
      const dropped = n - subs.length;
      skipsTotal += skips;
      const [code] = (await once(reader, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`reader process exited with ${code}`);
      const r = JSON.parse(json) as { total: number; min: number; max: number };
      const secs = SECONDS;
      const mbps = (b: number): string => ((b * 8) / secs / 1e6).toFixed(2);
      out(
        `| ${n} | ${Math.round(inputSamples.reduce((a, b) => a + b, 0) / Math.max(1, inputSamples.length))} | ${mbps(r.total)} | ${mbps(r.min)}–${mbps(r.max)} | ` +
          `${(((cpu.user + cpu.system) / wallUs) * 100).toFixed(1)} | ${(rssMax / 1048576).toFixed(0)} | ${skips} | ${dropped} |`,
      );
      // Wait for the readers' connections to be gone before the next step.
      const gone = Date.now();
      while (hub.subscribers(PATH).length > 0 && Date.now() - gone < 5_000) await new Promise((res) => setTimeout(res, 50));
    }
    out('');
    out(`total skips ${skipsTotal}`);
  } finally {
    publisher.kill('SIGKILL');
    flv.close();
    hub.close();
    await rtmp.close();
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
