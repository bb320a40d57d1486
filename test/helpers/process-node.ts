/**
 * Nodes as real child processes (`node dist/src/main.js --config FILE`, or
 * `tsx src/main.ts` in a tree edited since its last build), for tests
 * that kill, restart or signal them. Addresses are read from the node's log.
 * Every process is tracked from its spawn (helpers/processes.ts): a failed
 * start or a failed test never leaves one running.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { onJsonLines } from './json-lines.js';
import { exitOf, spawnTracked, startAll, stopProcess } from './processes.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Newest modification time of the program's sources (what `npm run build` compiles to dist/). */
function newestSource(): number {
  let newest = statSync(path.join(ROOT, 'package.json')).mtimeMs;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mjs)$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const dir of ['src', 'dataplane', 'resolvers']) walk(path.join(ROOT, dir));
  return newest;
}

/**
 * How a node process runs: the compiled program `npm start` runs (dist/, built by
 * `npm install`) when it is newer than every source file — it starts with about half the
 * CPU — else the TypeScript through tsx's loader (a tree edited since its last build).
 * Either way one process, so a signal reaches the node.
 */
function nodeArgs(): string[] {
  const dist = path.join(ROOT, 'dist/src/main.js');
  const built = statSync(dist, { throwIfNoEntry: false })?.mtimeMs;
  if (built !== undefined && newestSource() <= built) return [dist];
  process.stdout.write('# node processes run src/main.ts through tsx: dist/ is older than the sources (npm run build)\n');
  return ['--import', 'tsx', path.join(ROOT, 'src/main.ts')];
}
export const NODE_ARGS = nodeArgs();

/**
 * Upper bound for a node process to log "HTTP listening". A safety net, not a
 * budget: a fresh node takes seconds alone and over a minute when eight start at
 * once on a loaded 2-core machine; a start that fails ends sooner (the process exits).
 */
export const START_TIMEOUT_MS = 180_000;

export type LogLine = Record<string, unknown>;

export interface ProcessNode {
  child: ChildProcess;
  /** Log lines (parsed JSON) seen so far. */
  lines: LogLine[];
  stderr: string;
  httpUrl: string;
  /** Waits for a log line matching `pred` (one already seen counts). */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Signals the process group (SIGTERM by default) and waits for exit (SIGKILL after `timeoutMs`); returns the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export function writeConfig(file: string, config: Record<string, unknown>): string {
  writeFileSync(file, stringify(config));
  return file;
}

/**
 * Writes `DIR/NAME.yaml` for a node process on loopback, every listener on port 0,
 * datadir `DIR/NAME`, JSON logs at info (what {@link startProcessNode} reads), with
 * `extra` keys over those.
 */
export function writeNodeConfig(dir: string, name: string, extra: Record<string, unknown> = {}): string {
  return writeConfig(path.join(dir, `${name}.yaml`), {
    name,
    datadir: path.join(dir, name),
    http: { listenaddr: '127.0.0.1:0' },
    rtmp: { listenaddr: '127.0.0.1:0' },
    log: { level: 'info' },
    ...extra,
  });
}

/** Runs the program with arguments; resolves when it exits (killed after `timeoutMs`, a safety net). */
export function runProgram(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      void stopProcess(child, 'SIGKILL');
      reject(new Error(`program did not exit within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    // 'close': the exit code and all of stdout/stderr.
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The last few log lines, for error messages. */
function tail(lines: LogLine[], stderr: string): string {
  const msgs = lines.slice(-8).map((l) => `${String(l.level)} ${String(l.msg)}`);
  return `last log lines: [${msgs.join(' | ')}]; stderr: ${stderr.slice(-2000)}`;
}

/**
 * Starts a node process from a config file and waits until its HTTP server listens.
 * If it does not (it exits, `timeoutMs` passes, or `signal` aborts), the process is
 * killed and awaited before the error is thrown.
 */
export async function startProcessNode(
  configFile: string,
  timeoutMs = START_TIMEOUT_MS,
  opts: { signal?: AbortSignal; env?: NodeJS.ProcessEnv; nodeFlags?: string[] } = {},
): Promise<ProcessNode> {
  opts.signal?.throwIfAborted();
  // nodeFlags go to node itself (e.g. --cpu-prof, which NODE_OPTIONS does not allow).
  const child = spawnTracked(process.execPath, [...(opts.nodeFlags ?? []), ...NODE_ARGS, '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.env ? { env: opts.env } : {}),
  });
  const lines: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let stderr = '';
  onJsonLines(child.stdout!, (obj) => {
    lines.push(obj);
    for (const w of [...waiters]) {
      if (w.pred(obj)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(obj);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = exitOf(child);
  const waitLog = (pred: (l: LogLine) => boolean, ms = 30_000): Promise<LogLine> => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (l: LogLine) => {
          clearTimeout(t);
          resolve(l);
        },
      };
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`no matching log line within ${ms} ms; ${tail(lines, stderr)}`));
      }, ms);
      waiters.push(w);
      void exited.then((code) => {
        if (!waiters.includes(w)) return;
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(t);
        reject(new Error(`node exited (${code}) before the log line; ${tail(lines, stderr)}`));
      });
    });
  };
  const stop = (signal: NodeJS.Signals = 'SIGTERM', ms = 15_000): Promise<number | null> => stopProcess(child, signal, ms);
  let listening: LogLine;
  const onAbort = (): void => void stop('SIGKILL');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    listening = await waitLog((l) => l.msg === 'HTTP listening (GraphQL and GraphiQL at /graphql)', timeoutMs);
  } catch (err) {
    await stop('SIGKILL');
    throw opts.signal?.aborted ? new Error(`start of ${configFile} aborted: another start failed`) : err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const addr = String(listening.address);
  const port = addr.slice(addr.lastIndexOf(':') + 1);
  return {
    child,
    lines,
    get stderr() {
      return stderr;
    },
    httpUrl: `http://127.0.0.1:${port}`,
    waitLog,
    exited,
    stop,
  };
}

/**
 * Starts node processes from several config files at once. If one fails, the
 * others are killed (those still starting, and those already up) before the
 * first error is thrown.
 */
export function startProcessNodes(configFiles: readonly string[], timeoutMs = START_TIMEOUT_MS): Promise<ProcessNode[]> {
  const ac = new AbortController();
  const starts = configFiles.map((f) =>
    startProcessNode(f, timeoutMs, { signal: ac.signal }).catch((err: unknown) => {
      ac.abort();
      throw err;
    }),
  );
  return startAll(starts, (n) => n.stop('SIGKILL'));
}
