/**
 * Start-time and idle-memory benchmark (not a test). Starts a real node as a child
 * process, the way `npm start` does, and measures:
 *
 *   ready   — ms from spawn to the first 200 answer of GET /api/cascade/clients
 *             (polled every 10 ms), on an empty datadir and on the datadir the
 *             previous run left (existing);
 *   early   — VmRSS of the process (main thread and the PGlite worker: one process)
 *             3 s after ready;
 *   idle    — VmRSS --settle seconds (default 35) after ready, with no streams: the
 *             steady state once GraphQL has loaded (2 s after start) and the node
 *             has given back the young generation start-up grew (src/memory-settle.ts).
 * The node runs with the environment `npm start` gives it (package.json's start script).
 *
 * Each case runs --runs times (default 5); min/median/max are printed beside a plain
 * `node -e` HTTP server started the same way in the same run (the floor of Node
 * itself on this machine; its RSS is read 3 s after ready, it has nothing to settle).
 * With --before DIR, a second checkout (e.g. the main branch) is measured in the same
 * run with `node --import tsx src/main.ts`.
 *
 *   npm run bench:start
 *   npm run bench:start -- --runs 5 --before ../main --before-runs 3
 *   npm run bench:start -- --cmd tsx        (this checkout through tsx, not dist/)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/helpers/stream-faults.js';

const GOALS = { emptyMs: 1_500, existingMs: 1_000, idleMb: 150 };
const ROOT = path.resolve(import.meta.dirname, '..');
const out = (s: string): void => void process.stdout.write(`${s}\n`);

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    settle: { type: 'string', default: '35' },
    before: { type: 'string' },
    'before-runs': { type: 'string' },
    cmd: { type: 'string', default: 'auto' },
  },
});
const RUNS = Math.max(1, Math.min(50, Number(opts.runs)));
const BEFORE_RUNS = Math.max(1, Math.min(50, Number(opts['before-runs'] ?? opts.runs)));
const SETTLE_MS = Math.max(0, Math.min(60, Number(opts.settle))) * 1_000;
const READY_TIMEOUT_MS = 180_000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function get(port: number, urlPath: string): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

interface Sample {
  readyMs: number;
  earlyMb: number;
  idleMb: number;
}

const EARLY_MS = 3_000;

/** The `VAR=value` words before `node` in package.json's start script: what `npm start` runs the node with. */
function startEnv(): NodeJS.ProcessEnv {
  const script: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const word of script.split(/\s+/)) {
    const m = /^([A-Z_][A-Z0-9_]*)=(\S*)$/.exec(word);
    if (!m) break;
    env[m[1]!] = m[2];
  }
  return env;
}

/** Spawns `argv` in `cwd`, waits for a 200 on `urlPath`, reads RSS after the settle time, stops it. */
async function measure(argv: string[], cwd: string, port: number, urlPath: string, env = process.env, settleMs = SETTLE_MS): Promise<Sample> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()).length > 8_000 && (stderr = stderr.slice(-4_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let readyMs = NaN;
  try {
    while (performance.now() - t0 < READY_TIMEOUT_MS) {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${stderr.slice(-2_000)}`);
      if ((await get(port, urlPath)) === 200) {
        readyMs = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    if (Number.isNaN(readyMs)) throw new Error(`no answer within ${READY_TIMEOUT_MS} ms: ${stderr.slice(-2_000)}`);
    await new Promise((r) => setTimeout(r, Math.min(EARLY_MS, settleMs)));
    const earlyMb = rssMb(child.pid!);
    await new Promise((r) => setTimeout(r, Math.max(0, settleMs - EARLY_MS)));
    return { readyMs, earlyMb, idleMb: rssMb(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(hard);
  }
}

async function nodeConfig(dir: string): Promise<{ file: string; port: number }> {
  const [port, rtmp, quic] = [await freePort('tcp'), await freePort('tcp'), await freePort('udp')];
  const file = path.join(dir, 'node.yaml');
  writeFileSync(
    file,
    [
      `name: bench-start`,
      `datadir: ${JSON.stringify(path.join(dir, 'data'))}`,
      `http: { listenaddr: "127.0.0.1:${port}" }`,
      `rtmp: { listenaddr: "127.0.0.1:${rtmp}" }`,
      `log: { level: warn }`,
      `cascade-server: { quic: { listenaddr: "127.0.0.1:${quic}" } }`,
      '',
    ].join('\n'),
  );
  return { file, port };
}

interface Series {
  empty: Sample[];
  existing: Sample[];
}

/** Runs the node of checkout `root` with `argv` RUNS times on an empty datadir, each followed by a start on the datadir it made. */
async function nodeSeries(root: string, argv: string[], runs: number, env = process.env): Promise<Series> {
  const s: Series = { empty: [], existing: [] };
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-start-'));
    try {
      const { file, port } = await nodeConfig(dir);
      s.empty.push(await measure([...argv, '--config', file], root, port, '/api/cascade/clients', env));
      s.existing.push(await measure([...argv, '--config', file], root, port, '/api/cascade/clients', env));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return s;
}

async function plainSeries(): Promise<Sample[]> {
  const s: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const port = await freePort('tcp');
    const code = `require('node:http').createServer((q, s) => s.end('[]')).listen(${port}, '127.0.0.1')`;
    s.push(await measure([process.execPath, '-e', code], ROOT, port, '/', process.env, EARLY_MS));
  }
  return s;
}

function stats(xs: number[]): { min: number; med: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const med = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, med, max: s[s.length - 1]! };
}

const fmt = (xs: number[], digits = 0): string => {
  const { min, med, max } = stats(xs);
  return `${med.toFixed(digits).padStart(6)} (${min.toFixed(digits)}-${max.toFixed(digits)})`;
};

function row(label: string, samples: Sample[]): void {
  out(
    `${label.padEnd(34)} ready ms ${fmt(samples.map((x) => x.readyMs))}   RSS MB at ${EARLY_MS / 1000} s ${fmt(samples.map((x) => x.earlyMb))}` +
      `   idle RSS MB ${fmt(samples.map((x) => x.idleMb))}`,
  );
}

function thisCheckoutArgv(): { argv: string[]; label: string } {
  const dist = path.join(ROOT, 'dist/src/main.js');
  if (opts.cmd === 'tsx' || (opts.cmd === 'auto' && !existsSync(dist))) {
    return { argv: [process.execPath, '--import', 'tsx', 'src/main.ts'], label: 'node --import tsx src/main.ts' };
  }
  return { argv: [process.execPath, 'dist/src/main.js'], label: 'node dist/src/main.js' };
}

async function main(): Promise<void> {
  const abort = setTimeout(() => {
    process.stderr.write('bench:start: aborted after 30 min\n');
    process.exit(1);
  }, 30 * 60_000);
  abort.unref();
  const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
  out(`bench:start — ${RUNS} runs per case, RSS read ${SETTLE_MS / 1000} s after ready; load average at start ${load()}`);
  out('median (min-max)');
  const plain = await plainSeries();
  row('plain node -e http server', plain);
  if (opts.before) {
    const before = await nodeSeries(path.resolve(opts.before), [process.execPath, '--import', 'tsx', 'src/main.ts'], BEFORE_RUNS);
    row(`before, empty datadir`, before.empty);
    row(`before, existing datadir`, before.existing);
  }
  const { argv, label } = thisCheckoutArgv();
  const now = await nodeSeries(ROOT, argv, RUNS, startEnv());
  row(`empty datadir`, now.empty);
  row(`existing datadir`, now.existing);
  out(`(this checkout: ${label} with npm start's environment; load average at end ${load()})`);
  const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  const e = stats(now.empty.map((x) => x.readyMs)).med;
  const x = stats(now.existing.map((x) => x.readyMs)).med;
  const m = stats([...now.empty, ...now.existing].map((x) => x.idleMb)).med;
  out(`goal: empty datadir to first answer <= ${GOALS.emptyMs} ms median: ${e.toFixed(0)} ms, ${verdict(e <= GOALS.emptyMs)}`);
  out(`goal: existing datadir to first answer <= ${GOALS.existingMs} ms median: ${x.toFixed(0)} ms, ${verdict(x <= GOALS.existingMs)}`);
  out(`goal: idle RSS <= ${GOALS.idleMb} MB median: ${m.toFixed(0)} MB, ${verdict(m <= GOALS.idleMb)}`);
}

await main();
