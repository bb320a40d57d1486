/**
 * Nodes as real child processes (`tsx src/main.ts --config FILE`), for tests
 * that kill, restart or signal them. Addresses are read from the node's log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { onJsonLines } from './json-lines.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Node runs the TypeScript itself through tsx's loader: one process, so a signal reaches the node. */
const NODE_ARGS = ['--import', 'tsx', path.join(ROOT, 'src/main.ts')];

export interface ProcessNode {
  child: ChildProcess;
  /** Log lines (parsed JSON) seen so far. */
  lines: Record<string, unknown>[];
  stderr: string;
  httpUrl: string;
  /** Waits for a log line matching `pred`. */
  waitLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export function writeConfig(file: string, config: Record<string, unknown>): string {
  writeFileSync(file, stringify(config));
  return file;
}

/** Runs the program with arguments; resolves when it exits. */
export function runProgram(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`program did not exit within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a node process from a config file and waits until its HTTP server listens. */
export async function startProcessNode(configFile: string, timeoutMs = 30_000): Promise<ProcessNode> {
  const child = spawn(process.execPath, [...NODE_ARGS, '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
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
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const waitLog = (pred: (l: Record<string, unknown>) => boolean, ms = 10_000): Promise<Record<string, unknown>> => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (l: Record<string, unknown>) => {
          clearTimeout(t);
          resolve(l);
        },
      };
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`no matching log line within ${ms} ms; stderr: ${stderr.slice(-2000)}`));
      }, ms);
      waiters.push(w);
      void exited.then((code) => {
        if (waiters.includes(w)) reject(new Error(`node exited (${code}) before the log line; stderr: ${stderr.slice(-2000)}`));
      });
    });
  };
  const listening = await waitLog((l) => l.msg === 'HTTP listening (GraphQL and GraphiQL at /graphql)', timeoutMs);
  const addr = String(listening.address);
  const port = addr.slice(addr.lastIndexOf(':') + 1);
  const node: ProcessNode = {
    child,
    lines,
    get stderr() {
      return stderr;
    },
    httpUrl: `http://127.0.0.1:${port}`,
    waitLog,
    exited,
    async stop(signal = 'SIGTERM', ms = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  return node;
}
