/**
 * `npm run demo`: a 3-level cascade on loopback (examples/cascade: HQ ← region ← edge),
 * a test stream published at the edge when ffmpeg is installed, and the URLs to
 * play it at HQ. Ctrl-C stops everything cleanly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, type Config } from '../src/config.js';
import { onJsonLines } from '../test/helpers/json-lines.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const names = ['hq', 'region', 'edge'] as const;
const children: ChildProcess[] = [];
let stopping = false;

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function startNode(name: string): { child: ChildProcess; config: Config } {
  const file = path.join(root, 'examples/cascade', `${name}.yaml`);
  const config = loadConfigFile(file);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), '--config', file], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Show warnings and errors of each node, prefixed; the rest stays quiet.
  onJsonLines(
    child.stdout!,
    (l, raw) => {
      if (Number(l.level) >= 40) say(`[${name}] ${String(l.msg)} ${raw.length > 300 ? '' : raw}`);
    },
    (raw) => say(`[${name}] ${raw}`),
  );
  child.on('exit', (code, signal) => {
    if (!stopping) say(`[${name}] exited (${code ?? signal}); stopping the demo`);
    if (!stopping) void stop(1);
  });
  children.push(child);
  return { child, config };
}

const url = (c: Config, p: string): string => `http://127.0.0.1:${c.http.listen.port}${p}`;

async function json(u: string): Promise<{ data: unknown } | null> {
  try {
    const r = await fetch(u, { signal: AbortSignal.timeout(2_000) });
    return (await r.json()) as { data: unknown };
  } catch {
    return null;
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && !stopping) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 300));
  }
  if (!stopping) say(`  … ${what}: not within ${timeoutMs / 1000} s`);
  return false;
}

async function stop(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('\nstopping…');
  for (const c of [...children].reverse()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.on('exit', () => {
            clearTimeout(t);
            r();
          });
        }),
    ),
  );
  say('stopped.');
  process.exit(code);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const nodes: Record<string, Config> = {};
for (const n of names) {
  const { config } = startNode(n);
  nodes[n] = config;
  const ok = await waitUntil(`${n} HTTP`, async () => (await json(url(config, '/api/stream/list'))) !== null, 30_000);
  if (!ok) await stop(1);
  say(`${n.padEnd(6)} up: ${url(config, '/graphql')}`);
}
const hq = nodes.hq!;
const region = nodes.region!;
const edge = nodes.edge!;
await waitUntil('region online at HQ', async () => ((await json(url(hq, '/api/cascade/clients')))?.data as { online: boolean }[] | undefined)?.some((c) => c.online) ?? false, 20_000);
await waitUntil('edge online at region', async () => ((await json(url(region, '/api/cascade/clients')))?.data as { online: boolean }[] | undefined)?.some((c) => c.online) ?? false, 20_000);
say('tree: hq ← region-a ← edge-a1 (see GET /api/cascade/clients on hq and region)');

const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
const publishUrl = `rtmp://127.0.0.1:${edge.rtmp.listen.port}/live/demo`;
if (hasFfmpeg) {
  const ff = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', publishUrl],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.unshift(ff);
  say(`publishing a test stream at the edge: ${publishUrl}`);
  const atHq = await waitUntil('stream at HQ', async () => ((await json(url(hq, '/api/stream/list')))?.data as { path: string }[] | undefined)?.some((s) => s.path === 'live/demo') ?? false, 20_000);
  if (atHq) say('the stream reached HQ two hops up.');
} else {
  say(`ffmpeg is not installed: publish yourself, e.g. ffmpeg -re -i in.mp4 -c copy -f flv ${publishUrl}`);
}
say(`\nplay at HQ:\n  ffplay ${url(hq, '/live/demo.flv')}\n  ffplay rtmp://127.0.0.1:${hq.rtmp.listen.port}/live/demo\n  ws: ${url(hq, '/live/demo.flv').replace('http', 'ws')}`);
say('\nCtrl-C to stop.');
