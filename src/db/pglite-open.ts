/**
 * Opening an embedded (PGlite) database: lock its directory, start its worker thread
 * from the template when there is a current one. Light on purpose (no TypeORM): the
 * program starts this before it loads the rest of itself, so PGlite boots on another
 * core while the modules load (src/main.ts, {@link prestartPglite}).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MIGRATION_NAMES } from './migrations/index.js';
import { openPgliteThread, type PgliteThread } from './pglite-thread.js';
import { findTemplate } from './pglite-template.js';

/** A database that cannot be opened; the message names it and says why. */
export class DatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseError';
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** PGlite has no lock on its directory: two processes on one directory would corrupt it. */
function lockDir(dir: string): () => void {
  const lock = `${dir}.lock`;
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    if (pid && pid !== process.pid && pidAlive(pid)) {
      throw new DatabaseError(`database directory ${dir} is in use by process ${pid}`);
    }
  } catch (err) {
    if (err instanceof DatabaseError) throw err;
  }
  writeFileSync(lock, String(process.pid));
  return () => rmSync(lock, { force: true });
}

/** An open PGlite worker, the lock on its directory, and how the template was used. */
interface OpenedPglite {
  pglite: PgliteThread;
  unlock: () => void;
  /** Set when a new database was made by initdb although a template was wanted: why. */
  templateMissed: string | null;
}

/**
 * Opens PGlite on `dir` (null: in memory). `template`: true for the current template
 * of this install, a path for that file, false for none (an empty schema).
 */
export async function openPglite(dir: string | null, template: boolean | string): Promise<OpenedPglite> {
  let unlock: () => void = () => {};
  if (dir) {
    mkdirSync(path.dirname(dir), { recursive: true });
    unlock = lockDir(dir);
  }
  const t = template === false ? null : typeof template === 'string' ? { file: template, found: true } : findTemplate(MIGRATION_NAMES);
  let pglite: PgliteThread;
  try {
    pglite = await openPgliteThread(dir, { templateFile: t?.found ? t.file : null });
  } catch (err) {
    unlock();
    throw new DatabaseError(`cannot open PGlite database ${dir ?? '(memory)'}: ${(err as Error).message}`);
  }
  const templateMissed = t && pglite.origin === 'initdb' ? (pglite.note ?? `no current template at ${t.file} (npm run build makes it)`) : null;
  return { pglite, unlock, templateMissed };
}

let prestarted: { dir: string; opening: Promise<OpenedPglite> } | null = null;

/**
 * Starts opening the database on `dir` now, for {@link takePrestartedPglite} to pick up.
 * A failure is kept for that call to report.
 */
export function prestartPglite(dir: string): void {
  const opening = openPglite(dir, true);
  opening.catch(() => undefined);
  prestarted = { dir, opening };
}

/** The opening started by {@link prestartPglite} for `dir`, once; null when there is none. */
export function takePrestartedPglite(dir: string | null): Promise<OpenedPglite> | null {
  if (!prestarted || prestarted.dir !== dir) return null;
  const { opening } = prestarted;
  prestarted = null;
  return opening;
}
