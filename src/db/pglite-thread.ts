/**
 * PGlite in a worker thread. PGlite runs PostgreSQL compiled to WebAssembly, and
 * every query runs synchronously on the thread that owns it: on the node's main
 * thread, opening a database blocked the event loop for seconds and each query
 * for milliseconds, long enough to time out cascade links and QUIC handshakes
 * (docs/RELIABILITY.md: connection storm, own event loop blocked). Here the
 * instance lives in its own thread (pglite-worker.mjs) and the main thread only
 * posts SQL and receives rows.
 */
import { Worker } from 'node:worker_threads';
import type { Results } from '@electric-sql/pglite';

/** The part of PGlite the driver uses (src/db/pglite-pool.ts). */
export interface PgliteLike {
  query(sql: string, params?: unknown[]): Promise<Results>;
  exec(sql: string): Promise<Results[]>;
  close(): Promise<void>;
}

/** The worker thread itself, for tests that simulate its crash. */
export interface PgliteThread extends PgliteLike {
  /** Kills the worker thread as a crash would (tests). */
  crashForTest(): Promise<void>;
}

/** What callers see while the worker is gone: src/db/unavailable.ts maps it to "database unavailable". */
export const PGLITE_GONE = 'PGLITE_WORKER_GONE';

function goneError(message: string): Error {
  return Object.assign(new Error(message), { code: PGLITE_GONE });
}

/** An error raised by PGlite in the worker, with its PostgreSQL fields (code, detail, constraint, …). */
export class PgliteError extends Error {
  [field: string]: unknown;
  constructor(fields: Record<string, unknown>) {
    super(String(fields.message ?? 'PGlite error'));
    for (const [k, v] of Object.entries(fields)) if (k !== 'message' && k !== 'stack') this[k] = v;
    this.name = typeof fields.name === 'string' ? fields.name : 'PgliteError';
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * An in-memory database starts from a copy of one freshly initialised data directory,
 * made once per process (initdb costs seconds, loading a copy a fraction of that).
 */
let memoryTemplate: Promise<ArrayBuffer> | null = null;

const WORKER_URL = new URL('./pglite-worker.mjs', import.meta.url);

function start(workerData: { dir: string | null; template: ArrayBuffer | null; makeTemplate: boolean }): {
  worker: Worker;
  ready: Promise<ArrayBuffer | null>;
} {
  // No execArgv: the worker is plain JavaScript and needs no loader.
  const worker = new Worker(WORKER_URL, { workerData, execArgv: [] });
  const ready = new Promise<ArrayBuffer | null>((resolve, reject) => {
    const onExit = (code: number): void => reject(new Error(`PGlite worker exited (code ${code}) before it was ready`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once('message', (m: { ready: boolean; template?: ArrayBuffer | null; error?: Record<string, unknown> }) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      if (m.ready) resolve(m.template ?? null);
      else reject(new PgliteError(m.error ?? {}));
    });
  });
  return { worker, ready };
}

/**
 * Opens PGlite on `dir` (or in memory when null) in a worker thread. If the worker dies
 * (a WebAssembly abort, out of memory), calls fail as "database unavailable" and, for a
 * database on disk, the next call starts a new worker on the same directory (what was
 * committed is there; an in-memory database cannot come back).
 */
export async function openPgliteThread(dir: string | null): Promise<PgliteThread> {
  const worker = await spawn(dir);
  return attach(worker, dir === null ? null : () => spawn(dir));
}

async function spawn(dir: string | null): Promise<Worker> {
  // The first in-memory database is initialised fresh and hands back its copy as the template;
  // later ones each get their own copy of it (postMessage clones the buffer).
  const makeTemplate = dir === null && memoryTemplate === null;
  const s = start({ dir, template: dir === null && !makeTemplate ? await memoryTemplate : null, makeTemplate });
  let ready = s.ready;
  if (makeTemplate) {
    ready = ready.then((t) => {
      if (t === null) throw new Error('PGlite worker sent no template');
      return t;
    });
    memoryTemplate = ready as Promise<ArrayBuffer>;
  }
  try {
    await ready;
  } catch (err) {
    if (makeTemplate) memoryTemplate = null;
    await s.worker.terminate();
    throw err;
  }
  return s.worker;
}

function attach(first: Worker, respawn: (() => Promise<Worker>) | null): PgliteThread {
  let worker: Worker | null = first;
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closed = false;
  let lastError: Error = goneError('PGlite worker gone');
  let respawning: Promise<Worker> | null = null;
  let lastRespawnAt = 0;
  const watch = (w: Worker): void => {
    const fail = (err: Error): void => {
      if (worker !== w) return;
      worker = null;
      lastError = err;
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      void w.terminate();
    };
    w.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: Record<string, unknown> }) => {
      const p = pending.get(m.id);
      if (p === undefined) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new PgliteError(m.error ?? {}));
    });
    w.on('error', (err) => fail(goneError(`PGlite worker failed: ${err.message}`)));
    w.on('exit', (code) => fail(goneError(`PGlite worker exited (code ${code})`)));
  };
  watch(first);
  /** The live worker, starting a new one (at most one attempt a second) when it died. */
  const live = async (): Promise<Worker> => {
    if (worker !== null) return worker;
    if (closed || respawn === null) throw lastError;
    if (respawning === null) {
      if (Date.now() - lastRespawnAt < 1_000) throw lastError;
      lastRespawnAt = Date.now();
      respawning = respawn().then(
        (w) => {
          respawning = null;
          if (closed) {
            void w.terminate();
            throw goneError('PGlite closed');
          }
          worker = w;
          watch(w);
          return w;
        },
        (err: Error) => {
          respawning = null;
          lastError = goneError(`PGlite worker could not be restarted: ${err.message}`);
          throw lastError;
        },
      );
    }
    return respawning;
  };
  const call = async <T>(msg: Record<string, unknown>): Promise<T> => {
    if (closed && msg.op !== 'close') throw goneError('PGlite closed');
    const w = await live();
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ ...msg, id });
    });
  };
  let closing: Promise<void> | null = null;
  return {
    query: (sql, params) => call<Results>({ op: 'query', sql, params }),
    exec: (sql) => call<Results[]>({ op: 'exec', sql }),
    close() {
      closing ??= (async () => {
        closed = true;
        const w = worker;
        if (w !== null) {
          // Bounded: a wedged worker is terminated after 5 s.
          await Promise.race([call<null>({ op: 'close' }).catch(() => null), new Promise((r) => setTimeout(r, 5_000).unref())]);
          worker = null;
          await w.terminate();
        }
      })();
      return closing;
    },
    async crashForTest() {
      await worker?.terminate();
    },
  };
}
