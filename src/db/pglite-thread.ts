/**
 * PGlite in a worker thread. PGlite runs PostgreSQL compiled to WebAssembly, and
 * every query runs synchronously on the thread that owns it: on the node's main
 * thread, opening a database blocked the event loop for seconds and each query
 * for milliseconds, long enough to time out cascade links and QUIC handshakes
 * (docs/RELIABILITY.md: connection storm, own event loop blocked). Here the
 * instance lives in its own thread (pglite-worker.mjs) and the main thread only
 * posts SQL and receives rows.
 */
import { readFile } from 'node:fs/promises';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Results } from '@electric-sql/pglite';

/** The part of PGlite the driver uses (src/db/pglite-pool.ts). */
export interface PgliteLike {
  query(sql: string, params?: unknown[]): Promise<Results>;
  exec(sql: string): Promise<Results[]>;
  close(): Promise<void>;
}

/** The worker thread itself, for tests that simulate its crash. */
export interface PgliteThread extends PgliteLike {
  /** How the database came to be when it was opened. */
  readonly origin: PgliteOrigin;
  /** Why a template was not used, when one was given and was not. */
  readonly note: string | null;
  /** The data directory as an uncompressed tar, after a checkpoint (src/db/pglite-template.ts). */
  dumpDataDir(): Promise<ArrayBuffer>;
  /** Kills the worker thread as a crash would (tests). */
  crashForTest(): Promise<void>;
}

/** What callers see while the worker is gone: src/db/unavailable.ts maps it to "database unavailable". */
export const PGLITE_GONE = 'PGLITE_WORKER_GONE';

function goneError(message: string): Error {
  return Object.assign(new Error(message), { code: PGLITE_GONE });
}

/** An error raised by PGlite in the worker, with its PostgreSQL fields (code, detail, constraint, …). */
class PgliteError extends Error {
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
 * PostgreSQL settings for an embedded control-plane database: a few small tables, one
 * session. PGlite's defaults (shared_buffers 128 MB, the sizes of a server) cost
 * ~150 MB of resident WebAssembly heap for nothing; these keep it near 100 MB.
 */
const PGLITE_SETTINGS: readonly string[] = [
  'shared_buffers=4MB',
  'wal_buffers=256kB',
  'temp_buffers=1MB',
  'work_mem=2MB',
  'maintenance_work_mem=8MB',
];

/** How the database came to be: opened as it was, copied from the template, or made by initdb. */
type PgliteOrigin = 'existing' | 'template' | 'initdb';

interface OpenPgliteOptions {
  /**
   * A template data directory (a tar from `dumpDataDir`, src/db/pglite-template.ts) to
   * make a new database from instead of running initdb; null or unusable: initdb.
   */
  templateFile?: string | null;
}

/** What one worker reported when it was ready. */
interface Ready {
  origin: PgliteOrigin;
  note: string | null;
  template: ArrayBuffer | null;
}

/**
 * In-memory databases start from a copy of one data directory per template, loaded
 * (or, with no template, initialised) once per process: initdb costs seconds, loading a
 * copy a fraction of that. Keyed by the template file ('' for a bare initdb).
 */
const memoryTemplates = new Map<string, Promise<ArrayBuffer>>();

const WORKER_URL = new URL('./pglite-worker.mjs', import.meta.url);

interface WorkerData {
  dir: string | null;
  templateFile: string | null;
  template: ArrayBuffer | null;
  makeTemplate: boolean;
  startParams: string[];
  wasmModule: WebAssembly.Module | null;
}

/**
 * V8 compiles PGlite's WebAssembly with its baseline compiler and moves hot functions
 * to the optimising one after a tiering budget. The default budget tiers up much of
 * PostgreSQL during the first queries, about 50 MB of optimised code for a node whose
 * database work is light; a large budget keeps that for functions that stay hot.
 * The flag is process-wide and only affects WebAssembly (the node has no other).
 */
let tieringSet = false;
function setWasmTiering(): void {
  if (tieringSet) return;
  tieringSet = true;
  v8.setFlagsFromString('--wasm-tiering-budget=1000000000');
}

/**
 * PostgreSQL's WebAssembly, compiled once per process and handed to every worker after the
 * first: a worker instantiates it instead of compiling it again, and the functions compiled
 * (lazily, as they are first called) in one worker are there for the next. A node opens one
 * database and its worker loads the WebAssembly itself (compiling it here too would cost
 * that start about 0.5 s and 50 MB); processes that open several (the tests, a worker
 * restarted after a crash) share it from the second on. Null when it cannot be read here.
 */
let pgliteModule: Promise<WebAssembly.Module | null> | null = null;
let workersStarted = 0;
function compiledPglite(): Promise<WebAssembly.Module | null> {
  if (workersStarted++ === 0) return Promise.resolve(null);
  pgliteModule ??= (async () => {
    try {
      const file = path.join(path.dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))), 'pglite.wasm');
      return await WebAssembly.compile(await readFile(file));
    } catch {
      return null;
    }
  })();
  return pgliteModule;
}

function start(workerData: WorkerData): { worker: Worker; ready: Promise<Ready> } {
  setWasmTiering();
  // No execArgv: the worker is plain JavaScript and needs no loader.
  // A small young generation: the worker's own JavaScript only relays rows.
  const worker = new Worker(WORKER_URL, { workerData, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 4 } });
  const ready = new Promise<Ready>((resolve, reject) => {
    const onExit = (code: number): void => reject(new Error(`PGlite worker exited (code ${code}) before it was ready`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once(
      'message',
      (m: { ready: boolean; origin?: PgliteOrigin; note?: string; template?: ArrayBuffer | null; error?: Record<string, unknown> }) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (m.ready) resolve({ origin: m.origin ?? 'initdb', note: m.note ?? null, template: m.template ?? null });
        else reject(new PgliteError(m.error ?? {}));
      },
    );
  });
  return { worker, ready };
}

/**
 * Opens PGlite on `dir` (or in memory when null) in a worker thread. If the worker dies
 * (a WebAssembly abort, out of memory), calls fail as "database unavailable" and, for a
 * database on disk, the next call starts a new worker on the same directory (what was
 * committed is there; an in-memory database cannot come back).
 */
export async function openPgliteThread(dir: string | null, opts: OpenPgliteOptions = {}): Promise<PgliteThread> {
  const templateFile = opts.templateFile ?? null;
  const first = await spawn(dir, templateFile);
  return attach(first.worker, first.ready, dir === null ? null : async () => (await spawn(dir, templateFile)).worker);
}

/** The template for in-memory databases: the template file's bytes, or the dump of a fresh initdb. */
function memoryTemplate(templateFile: string | null): { bytes: Promise<ArrayBuffer> | null; make: boolean; key: string } {
  const key = templateFile ?? '';
  const known = memoryTemplates.get(key);
  if (known) return { bytes: known, make: false, key };
  if (templateFile === null) return { bytes: null, make: true, key };
  const bytes = readFile(templateFile).then(
    (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
  );
  memoryTemplates.set(key, bytes);
  bytes.catch(() => memoryTemplates.delete(key));
  return { bytes, make: false, key };
}

async function spawn(dir: string | null, templateFile: string | null): Promise<{ worker: Worker; ready: Ready }> {
  let template: ArrayBuffer | null = null;
  let makeTemplate = false;
  let note: string | null = null;
  let key = '';
  if (dir === null) {
    let m = memoryTemplate(templateFile);
    try {
      template = m.bytes ? await m.bytes : null;
    } catch (err) {
      note = `database template ${templateFile} unusable: ${(err as Error).message}`;
      m = memoryTemplate(null);
      template = m.bytes ? await m.bytes : null;
    }
    makeTemplate = m.make;
    key = m.key;
  }
  const wasmModule = await compiledPglite();
  const s = start({ dir, templateFile, template, makeTemplate, wasmModule, startParams: [...PGLITE_SETTINGS].flatMap((x) => ['-c', x]) });
  if (makeTemplate) {
    // Later in-memory databases of this process each get their own copy of this one
    // (postMessage clones the buffer).
    const bytes = s.ready.then((r) => {
      if (r.template === null) throw new Error('PGlite worker sent no template');
      return r.template;
    });
    memoryTemplates.set(key, bytes);
    bytes.catch(() => memoryTemplates.delete(key));
  }
  try {
    const r = await s.ready;
    return { worker: s.worker, ready: { ...r, note: r.note ?? note } };
  } catch (err) {
    await s.worker.terminate();
    throw err;
  }
}

function attach(first: Worker, ready: Ready, respawn: (() => Promise<Worker>) | null): PgliteThread {
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
    origin: ready.origin,
    note: ready.note,
    dumpDataDir: () => call<ArrayBuffer>({ op: 'dump' }),
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
