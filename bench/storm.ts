/**
 * Cascade connection storm (not a test): N light cascade clients (UpperLink
 * over the default transport, default reconnect timing) spread over a few child
 * processes connect at once to one HQ node — a real node process, autoregister
 * on — then the HQ is killed (SIGKILL) and restarted, and they all come back at
 * once, as after an HQ crash.
 *
 *   npm run bench:storm                              # N = 500 over 4 processes
 *   npm run bench:storm -- --clients 200 --procs 2
 *   npm run bench:storm -- --rate 50 --burst 50      # HQ's cascade-server.admission (default 100/s, 200)
 *   npm run bench:storm -- --no-restart              # cold storm only
 *   npm run bench:storm -- --postgres                # HQ on a fresh PostgreSQL database (127.0.0.1:5432) instead of PGlite
 *
 * Per phase: time until 50 % / 90 % / all are online (as the HQ's live links),
 * connection attempts refused with Busy (admission control) as seen by the
 * clients, HQ CPU % (of one core; mean and peak over 500 ms samples) and RSS
 * (peak), and latency of `GET /api/cascade/clients` polled back to back during
 * the storm (p50 / p99 / max, errors).
 *
 * Clients are spread over `--sources` loopback source addresses (default 32:
 * 127.0.1.1 … 127.0.1.32, through the transport's `localAddress`), as real lower
 * nodes come from many addresses; the HQ caps pending handshakes per address (16),
 * so with `--sources 1` (all from 127.0.0.1) that cap, not admission, paces the storm.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { UpperLink, CloseCode } from '../dataplane/cascade/index.js';
import { defaultTransport } from '../dataplane/transport/index.js';
import { createPostgresDatabase, type TestDatabase } from '../test/helpers/db.js';
import { startProcessNode, writeConfig, type ProcessNode } from '../test/helpers/process-node.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

// ------------------------------------------------------------------ worker

interface WorkerStart {
  type: 'start';
  port: number;
  fingerprint: string;
  from: number;
  count: number;
  sources: number;
}
type WorkerMsg = { type: 'ready' } | { type: 'stats'; online: number; busy: number; attempts: number } | { type: 'stopped' };

async function worker(): Promise<void> {
  const silent = pino({ level: 'silent' });
  const clients: UpperLink[] = [];
  let busy = 0;
  let attempts = 0;
  let timer: NodeJS.Timeout | null = null;
  const report = (): void => {
    const online = clients.filter((c) => c.status().state === 'online').length;
    process.send?.({ type: 'stats', online, busy, attempts } satisfies WorkerMsg);
  };
  process.on('message', (m: WorkerStart | { type: 'stop' }) => {
    if (m.type === 'start') {
      for (let i = m.from; i < m.from + m.count; i++) {
        const c = new UpperLink({
          transport: defaultTransport,
          server: { host: '127.0.0.1', port: m.port },
          ...(m.sources > 1 ? { localAddress: `127.0.1.${(i % m.sources) + 1}` } : {}),
          secret: `storm-secret-${i}`,
          name: `storm-${i}`,
          version: 'bench',
          verify: { fingerprint: m.fingerprint },
          logger: silent,
        });
        c.on('stateChanged', (s) => {
          if (s.state === 'connecting') attempts++;
          if (s.state === 'backoff' && s.lastErrorCode === CloseCode.Busy) busy++;
        });
        clients.push(c);
      }
      for (const c of clients) c.start();
      timer = setInterval(report, 200);
    } else {
      if (timer) clearInterval(timer);
      void Promise.all(clients.map((c) => c.stop())).then(() => {
        process.send?.({ type: 'stopped' } satisfies WorkerMsg);
        process.exit(0);
      });
    }
  });
  process.send?.({ type: 'ready' } satisfies WorkerMsg);
}

// ------------------------------------------------------------------ parent

interface ProcSample {
  cpuPct: number;
  rssMb: number;
}

/** CPU % (of one core) and RSS of a process, sampled from /proc. */
function sampler(pid: number): { sample(): ProcSample | null } {
  const ticks = 100; // USER_HZ
  let last: { t: number; cpu: number } | null = null;
  return {
    sample() {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const cpu = (Number(fields[11]) + Number(fields[12])) / ticks;
        const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        const t = performance.now() / 1000;
        const pct = last ? ((cpu - last.cpu) / Math.max(1e-3, t - last.t)) * 100 : 0;
        last = { t, cpu };
        return { cpuPct: pct, rssMb: rssKb / 1024 };
      } catch {
        return null;
      }
    },
  };
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

interface PhaseResult {
  phase: string;
  allMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  busy: number;
  attempts: number;
  cpuMean: number;
  cpuPeak: number;
  rssPeak: number;
  apiN: number;
  apiP50: number;
  apiP99: number;
  apiMax: number;
  apiErrors: number;
}

async function main(): Promise<void> {
  const N = Number(arg('clients', '500'));
  const PROCS = Math.max(1, Math.min(N, Number(arg('procs', '4'))));
  const TIMEOUT_S = Number(arg('timeout', '180'));
  const SOURCES = Math.max(1, Math.min(250, Number(arg('sources', '32'))));
  const dir = mkdtempSync(path.join(tmpdir(), 'sc-storm-'));
  const admission = {
    ...(arg('rate', '') ? { rate: Number(arg('rate', '')) } : {}),
    ...(arg('burst', '') ? { burst: Number(arg('burst', '')) } : {}),
  };
  const quicPort = 20_000 + Math.floor(Math.random() * 20_000);
  const pgDb: TestDatabase | null = flag('postgres') ? await createPostgresDatabase() : null;
  const config = {
    name: 'storm-hq',
    datadir: path.join(dir, 'hq'),
    http: { listenaddr: '127.0.0.1:0' },
    rtmp: { listenaddr: '127.0.0.1:0' },
    database: { url: pgDb?.url ?? `pglite://${path.join(dir, 'hq', 'db')}` },
    log: { level: 'info' },
    // Registration bounds off: this measures a connection storm, not the flood defence (docs/SECURITY.md).
    'cascade-server': { quic: { listenaddr: `127.0.0.1:${quicPort}` }, autoregister: true, autoregisterlimit: { peraddress: 0, perhour: 0, rate: 0 }, admission },
  };
  const cfgFile = writeConfig(path.join(dir, 'hq.yaml'), config);
  out(
    `storm: ${N} clients over ${PROCS} processes → one HQ node process (autoregister, ${pgDb ? 'PostgreSQL' : 'PGlite'}, admission ${admission.rate ?? 100}/s burst ${admission.burst ?? 200}), QUIC 127.0.0.1:${quicPort}, clients from ${SOURCES === 1 ? '127.0.0.1' : `${SOURCES} addresses 127.0.1.1-${SOURCES}`}`,
  );

  let hq: ProcessNode = await startProcessNode(cfgFile, 60_000);
  const fpLine = await hq.waitLog((l) => l.msg === 'cascade server listening (QUIC)', 30_000);
  const fingerprint = String(fpLine.fingerprint);

  // Workers, each with its slice of clients, all told to start at the same moment.
  const workers: ChildProcess[] = [];
  const stats = new Map<ChildProcess, { online: number; busy: number; attempts: number }>();
  const self = fileURLToPath(import.meta.url);
  for (let k = 0; k < PROCS; k++) {
    const w = fork(self, ['--worker'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push(w);
    stats.set(w, { online: 0, busy: 0, attempts: 0 });
    w.on('message', (m: WorkerMsg) => {
      if (m.type === 'stats') stats.set(w, { online: m.online, busy: m.busy, attempts: m.attempts });
    });
  }
  await Promise.all(workers.map((w) => new Promise<void>((r) => w.on('message', (m: WorkerMsg) => m.type === 'ready' && r()))));
  const totals = (): { busy: number; attempts: number } => {
    let busy = 0;
    let attempts = 0;
    for (const s of stats.values()) {
      busy += s.busy;
      attempts += s.attempts;
    }
    return { busy, attempts };
  };

  /** Runs one phase: polls the API back to back and samples the HQ until all N are live links. */
  async function phase(name: string, node: ProcessNode, start: () => void): Promise<PhaseResult> {
    const before = totals();
    const s = sampler(node.child.pid!);
    s.sample();
    const samples: ProcSample[] = [];
    const lat: number[] = [];
    let apiErrors = 0;
    let online = 0;
    let p50Ms: number | null = null;
    let p90Ms: number | null = null;
    let allMs: number | null = null;
    const t0 = performance.now();
    const sampleTimer = setInterval(() => {
      const x = s.sample();
      if (x) samples.push(x);
    }, 500);
    start();
    const deadline = t0 + TIMEOUT_S * 1000;
    while (performance.now() < deadline) {
      const a = performance.now();
      try {
        const r = await fetch(`${node.httpUrl}/api/cascade/clients?online=true`, { signal: AbortSignal.timeout(10_000) });
        const body = (await r.json()) as { data?: Array<{ online: boolean }> };
        lat.push(performance.now() - a);
        if (r.status !== 200) apiErrors++;
        else online = (body.data ?? []).filter((c) => c.online).length;
      } catch {
        apiErrors++;
      }
      const el = performance.now() - t0;
      if (p50Ms === null && online >= N / 2) p50Ms = el;
      if (p90Ms === null && online >= N * 0.9) p90Ms = el;
      if (online >= N) {
        allMs = el;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    clearInterval(sampleTimer);
    const after = totals();
    return {
      phase: name,
      allMs,
      p50Ms,
      p90Ms,
      busy: after.busy - before.busy,
      attempts: after.attempts - before.attempts,
      cpuMean: samples.reduce((x, y) => x + y.cpuPct, 0) / Math.max(1, samples.length),
      cpuPeak: Math.max(0, ...samples.map((x) => x.cpuPct)),
      rssPeak: Math.max(0, ...samples.map((x) => x.rssMb)),
      apiN: lat.length,
      apiP50: pct(lat, 50),
      apiP99: pct(lat, 99),
      apiMax: Math.max(0, ...lat),
      apiErrors,
    };
  }

  const results: PhaseResult[] = [];
  const per = Math.ceil(N / PROCS);
  try {
    results.push(
      await phase('cold storm', hq, () => {
        workers.forEach((w, k) => {
          const from = k * per;
          w.send({ type: 'start', port: quicPort, fingerprint, from, count: Math.max(0, Math.min(per, N - from)), sources: SOURCES } satisfies WorkerStart);
        });
      }),
    );
    if (!flag('no-restart') && results[0]?.allMs !== null) {
      await new Promise((r) => setTimeout(r, 2_000));
      await hq.stop('SIGKILL');
      const killedAt = performance.now();
      hq = await startProcessNode(cfgFile, 60_000);
      const restartMs = performance.now() - killedAt;
      out(`HQ killed (SIGKILL) and restarted in ${restartMs.toFixed(0)} ms; clients reconnect on their own`);
      results.push(await phase('after HQ kill -9', hq, () => undefined));
    }
  } finally {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((r) => {
            const t = setTimeout(() => {
              w.kill('SIGKILL');
              r();
            }, 15_000);
            w.on('exit', () => {
              clearTimeout(t);
              r();
            });
            w.send({ type: 'stop' });
          }),
      ),
    );
    await hq.stop();
    await pgDb?.drop();
    rmSync(dir, { recursive: true, force: true });
  }

  const f = (x: number | null, d = 0): string => (x === null || Number.isNaN(x) ? '—' : x.toFixed(d));
  out('');
  out(`phase            | clients | 50 % online s | 90 % online s | all online s | attempts | Busy | HQ CPU % mean/peak | HQ RSS MiB peak | GET /api/cascade/clients n, p50/p99/max ms, errors`);
  out(`-----------------|---------|---------------|---------------|--------------|----------|------|--------------------|-----------------|---------------------------------------------------`);
  for (const r of results) {
    out(
      `${r.phase.padEnd(16)} | ${String(N).padStart(7)} | ${f(r.p50Ms && r.p50Ms / 1000, 1).padStart(13)} | ${f(r.p90Ms && r.p90Ms / 1000, 1).padStart(13)} | ${f(r.allMs && r.allMs / 1000, 1).padStart(12)} | ${String(r.attempts).padStart(8)} | ${String(r.busy).padStart(4)} | ${`${f(r.cpuMean)}/${f(r.cpuPeak)}`.padStart(18)} | ${f(r.rssPeak).padStart(15)} | ${r.apiN}, ${f(r.apiP50, 1)}/${f(r.apiP99, 1)}/${f(r.apiMax, 1)}, ${r.apiErrors}`,
    );
  }
  process.exitCode = results.every((r) => r.allMs !== null) ? 0 : 1;
}

if (process.argv.includes('--worker')) await worker();
else await main();
