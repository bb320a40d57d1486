/**
 * Fan-out benchmark (not a test): one ~0.6 Mbit/s stream published over RTMP
 * (ffmpeg `-re -c copy` of a generated 640x360 H.264/AAC file) played by N
 * players on loopback, for our media node and node-media-server side by side.
 *
 *   npm run bench:fanout
 *   npm run bench:fanout -- --players 500,1000 --seconds 10 --impls ours,nms --protocols http,ws,rtmp
 *   npm run bench:fanout -- --before main        # also main's dataplane/media, same sitting
 *   npm run bench:fanout -- --merge-ms 0         # our node without write merging
 *   npm run bench:fanout -- --cpu-prof DIR       # V8 CPU profile of our server process
 *
 * Each server runs in its own process; its CPU (utime+stime from /proc) and
 * RSS are measured over the window. Players are one C process on epoll
 * (bench/fanout-client.c, compiled here with cc) that discards what it reads;
 * its own CPU is printed to show it is not the limit.
 *
 * Per row: delivered Gbit per CPU-second of the server, share of players in
 * real time (>= 90 % of the stream's byte rate over the window), players
 * refused (503 / clean close), never answered, server RSS and RSS per player.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeAmf0 } from '../dataplane/media/amf0.js';
import { RtmpChunkEncoder } from '../dataplane/media/rtmp-chunk-encoder.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const PLAYERS = arg('players', '500,1000,2000').split(',').map(Number);
const SECONDS = Number(arg('seconds', '10'));
const WARMUP_S = Number(arg('warmup', '4'));
const IMPLS = arg('impls', 'ours,nms').split(',');
const PROTOCOLS = arg('protocols', 'http,ws,rtmp').split(',');
const BEFORE = arg('before', '');
const MERGE_MS = arg('merge-ms', '');
const MAX_PLAYERS = arg('max-players', '');
const CPU_PROF = arg('cpu-prof', '');
const GOAL_GBIT_PER_CPU_S = 2;
const PATH = 'live/bench';
const TICK = 100; // USER_HZ of /proc/PID/stat

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Impl {
  label: string;
  args: Record<string, unknown>;
  protocols: string[];
}

interface Row {
  impl: string;
  protocol: string;
  players: number;
  gbitPerCpuS: number;
  realtimeShare: number;
  refused: number;
  unanswered: number;
  cpuPct: number;
  rssMiB: number;
  kibPerPlayer: number;
  clientCpuPct: number;
  mbitMin: number;
}

function procCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

function procRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

function rtmpPlayRequest(): Buffer {
  const enc = new RtmpChunkEncoder();
  const cmd = (csid: number, streamId: number, ...values: Parameters<typeof encodeAmf0>): Uint8Array =>
    enc.encode({ csid, type: 20, streamId, timestamp: 0, payload: encodeAmf0(...values) });
  return Buffer.concat([
    cmd(3, 0, 'connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live', flashVer: 'LNX 9,0,124,2', objectEncoding: 0 }),
    cmd(3, 0, 'createStream', 2, null),
    cmd(8, 1, 'play', 3, null, 'bench', -2),
  ]);
}

function requestFor(protocol: string): Buffer {
  if (protocol === 'rtmp') return rtmpPlayRequest();
  const ws = protocol === 'ws'
    ? 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
    : '';
  return Buffer.from(`GET /${PATH}.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n${ws}\r\n`);
}

async function startServer(impl: Impl, dir: string): Promise<{ proc: ChildProcess; rtmp: number; http: number }> {
  const node = ['--import', 'tsx'];
  if (CPU_PROF !== '' && impl.label.startsWith('ours')) {
    mkdirSync(CPU_PROF, { recursive: true });
    // One file per thread (tsx's loader runs in its own); the main thread's is the largest.
    node.push('--cpu-prof', '--cpu-prof-dir', resolve(CPU_PROF, impl.label.replace(/[^A-Za-z0-9_.-]/g, '_')));
  }
  const proc = spawn(process.execPath, [...node, join(import.meta.dirname, 'fanout-server.ts'), JSON.stringify(impl.args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: resolve(import.meta.dirname, '..'),
    env: { ...process.env, NMS_DATA: join(dir, 'nms-data') },
  });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  for await (const line of lines) {
    if (!line.startsWith('{')) continue;
    clearTimeout(timer);
    const ports = JSON.parse(line) as { rtmp: number; http: number };
    return { proc, ...ports };
  }
  throw new Error(`${impl.label} server did not start`);
}

/** Resolves once an HTTP-FLV GET of the stream answers 200 with bytes. */
async function waitPlayable(port: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < 20_000) {
    const ok = await new Promise<boolean>((res) => {
      const req = http.get({ host: '127.0.0.1', port, path: `/${PATH}.flv` }, (r) => {
        if (r.statusCode !== 200) {
          r.resume();
          return res(false);
        }
        r.once('data', () => {
          req.destroy();
          res(true);
        });
      });
      req.on('error', () => res(false));
      req.setTimeout(2_000, () => req.destroy());
    });
    if (ok) return;
    await sleep(300);
  }
  throw new Error('stream never became playable');
}

async function runClient(
  client: string,
  port: number,
  players: number,
  protocol: string,
  reqFile: string,
  minBytes: number,
  serverPid: number,
): Promise<{ json: Record<string, number>; cpuTicks: number; rssMax: number }> {
  const proc = spawn(client, ['127.0.0.1', String(port), String(players), protocol === 'rtmp' ? 'rtmp' : 'http', reqFile,
    String(WARMUP_S * 1000), String(SECONDS * 1000), String(minBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let cpu0 = 0;
  let rssMax = 0;
  let sampler: NodeJS.Timeout | null = null;
  let json: Record<string, number> | null = null;
  let cpuTicks = 0;
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    if (line === 'warm') {
      cpu0 = procCpuTicks(serverPid);
      rssMax = procRss(serverPid);
      sampler = setInterval(() => {
        rssMax = Math.max(rssMax, procRss(serverPid));
      }, 250);
    } else if (line.startsWith('{')) {
      cpuTicks = procCpuTicks(serverPid) - cpu0;
      json = JSON.parse(line) as Record<string, number>;
    }
  }
  if (sampler !== null) clearInterval(sampler);
  if (proc.exitCode === null) await once(proc, 'exit');
  if (json === null) throw new Error('load client printed no result');
  return { json, cpuTicks, rssMax };
}

async function main(): Promise<void> {
  for (const tool of ['ffmpeg', 'cc']) {
    if (spawnSync(tool, [tool === 'cc' ? '--version' : '-version'], { stdio: 'ignore' }).status !== 0) {
      out(`bench:fanout needs ${tool}`);
      process.exitCode = 1;
      return;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-fanout-'));
  const client = join(dir, 'fanout-client');
  const cc = spawnSync('cc', ['-O2', '-o', client, join(import.meta.dirname, 'fanout-client.c')], { stdio: 'inherit' });
  if (cc.status !== 0) throw new Error('cc failed');
  const file = join(dir, 'source.flv');
  const gen = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-vf', 'noise=alls=8:allf=t', '-pix_fmt', 'yuv420p',
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-b:v', '530k', '-maxrate', '530k', '-bufsize', '1060k',
    '-c:a', 'aac', '-b:a', '64k', '-t', '10', '-f', 'flv', file,
  ], { stdio: 'inherit' });
  if (gen.status !== 0) throw new Error('ffmpeg could not generate the source');
  const streamBytesPerS = statSync(file).size / 10;
  const minBytes = Math.floor(streamBytesPerS * SECONDS * 0.9);

  const impls: Impl[] = [];
  const extra: Record<string, unknown> = {};
  if (MERGE_MS !== '') extra.mergeMs = Number(MERGE_MS);
  if (MAX_PLAYERS !== '') extra.maxPlayers = Number(MAX_PLAYERS);
  if (BEFORE !== '') {
    // main's (or any ref's) dataplane/media, inside the worktree so node_modules resolve.
    const base = resolve(import.meta.dirname, '..', '.bench-before', BEFORE.replace(/[^A-Za-z0-9_.-]/g, '_'));
    rmSync(base, { recursive: true, force: true });
    mkdirSync(base, { recursive: true });
    const tar = spawnSync('sh', ['-c', `git archive ${JSON.stringify(BEFORE)} dataplane/media | tar -x -C ${JSON.stringify(base)}`], {
      cwd: resolve(import.meta.dirname, '..'),
      stdio: 'inherit',
    });
    if (tar.status !== 0) throw new Error(`cannot extract dataplane/media of ${BEFORE}`);
    impls.push({ label: `ours@${BEFORE}`, args: { impl: 'ours', mediaDir: join(base, 'dataplane/media') }, protocols: PROTOCOLS });
  }
  if (IMPLS.includes('ours')) impls.push({ label: 'ours', args: { impl: 'ours', ...extra }, protocols: PROTOCOLS });
  if (IMPLS.includes('nms')) {
    const base = 30_000 + Math.floor(Math.random() * 20_000);
    impls.push({ label: 'node-media-server', args: { impl: 'nms', rtmpPort: base, httpPort: base + 1 }, protocols: ['http'] });
  }

  const reqFiles = new Map<string, string>();
  for (const p of PROTOCOLS) {
    const f = join(dir, `req-${p}.bin`);
    writeFileSync(f, requestFor(p));
    reqFiles.set(p, f);
  }

  out(`node ${process.version}, ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start`);
  out(`stream ${((streamBytesPerS * 8) / 1e6).toFixed(2)} Mbit/s (FLV), ${WARMUP_S} s warm-up + ${SECONDS} s window per row; real time = >= 90 % of the stream's bytes in the window`);
  out('');
  out('| server | protocol | players | Gbit per server CPU-s | real time | refused | never answered | server CPU % | RSS MiB | KiB/player | client CPU % | slowest player Mbit/s |');
  out('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  const rows: Row[] = [];
  try {
    for (const impl of impls) {
      const server = await startServer(impl, dir);
      const publisher = spawn(
        'ffmpeg',
        ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${server.rtmp}/${PATH}`],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      try {
        await waitPlayable(server.http);
        await sleep(1_500);
        const pid = server.proc.pid as number;
        const idleRss = procRss(pid); // before any player: RSS above it is the players'
        for (const n of PLAYERS) {
          for (const protocol of impl.protocols) {
            const port = protocol === 'rtmp' ? server.rtmp : server.http;
            const r = await runClient(client, port, n, protocol, reqFiles.get(protocol) as string, minBytes, pid);
            const j = r.json;
            const cpuS = r.cpuTicks / TICK;
            const row: Row = {
              impl: impl.label,
              protocol,
              players: n,
              gbitPerCpuS: cpuS > 0 ? ((j.bytes ?? 0) * 8) / 1e9 / cpuS : 0,
              realtimeShare: (j.realtime ?? 0) / Math.max(1, n - (j.refused ?? 0) - (j.failed ?? 0)),
              refused: (j.refused ?? 0) + (j.failed ?? 0),
              unanswered: j.unanswered ?? 0,
              cpuPct: (cpuS / SECONDS) * 100,
              rssMiB: r.rssMax / 1048576,
              kibPerPlayer: Math.max(0, r.rssMax - idleRss) / 1024 / Math.max(1, j.playing ?? 0),
              clientCpuPct: ((j.cpuSeconds ?? 0) / ((j.wallMs ?? 1) / 1000)) * 100,
              mbitMin: ((j.min ?? 0) * 8) / 1e6 / SECONDS,
            };
            rows.push(row);
            out(
              `| ${row.impl} | ${protocol === 'http' ? 'HTTP-FLV' : protocol === 'ws' ? 'WS-FLV' : 'RTMP'} | ${n} | ${row.gbitPerCpuS.toFixed(2)} | ` +
                `${(row.realtimeShare * 100).toFixed(1)} % | ${row.refused} | ${row.unanswered} | ${row.cpuPct.toFixed(0)} | ${row.rssMiB.toFixed(0)} | ` +
                `${row.kibPerPlayer.toFixed(1)} | ${row.clientCpuPct.toFixed(0)} | ${row.mbitMin.toFixed(2)} |`,
            );
            await sleep(2_000); // let the players' connections go
          }
        }
      } finally {
        publisher.kill('SIGKILL');
        server.proc.kill('SIGTERM');
        const t = setTimeout(() => server.proc.kill('SIGKILL'), 10_000);
        if (server.proc.exitCode === null) await once(server.proc, 'exit');
        clearTimeout(t);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  out('');
  out(`load ${loadavg().map((l) => l.toFixed(2)).join(' ')} at end`);
  const ours = rows.filter((r) => r.impl === 'ours' && r.protocol === 'http');
  const nms = rows.filter((r) => r.impl === 'node-media-server');
  for (const r of ours) {
    const other = nms.find((x) => x.players === r.players);
    const ratio = other !== undefined && other.gbitPerCpuS > 0 ? ` (${(r.gbitPerCpuS / other.gbitPerCpuS).toFixed(1)}x node-media-server)` : '';
    const met = r.gbitPerCpuS >= GOAL_GBIT_PER_CPU_S && r.realtimeShare === 1 && r.unanswered === 0;
    out(
      `goal HTTP-FLV ${r.players} players: ${r.gbitPerCpuS.toFixed(2)} Gbit/CPU-s${ratio}, ${(r.realtimeShare * 100).toFixed(1)} % real time, ` +
        `${r.unanswered} unanswered -> ${met ? 'MET' : 'MISSED'} (>= ${GOAL_GBIT_PER_CPU_S} Gbit/CPU-s, all real time, none unanswered)`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
