/**
 * A `pg`-shaped driver module over one PGlite instance, for TypeORM's postgres
 * driver (`driver` option). Unlike typeorm-pglite it binds to the instance it is
 * given (several nodes can live in one process) and it behaves as a pool of size
 * one: a connection is held exclusively from `connect()` until `release()`, so
 * two transactions can never interleave on PGlite's single session.
 */
import { EventEmitter } from 'node:events';
import type { Results } from '@electric-sql/pglite';
import type { PgliteLike } from './pglite-thread.js';

type PGlite = Pick<PgliteLike, 'query' | 'exec'>;

type Callback<T> = (err: Error | null, value?: T) => void;

interface PgLikeResult {
  rows: unknown[];
  rowCount: number;
  command: string;
}

/** A FIFO lock. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }
}

function toPgResult(sql: string, r: Results | undefined): PgLikeResult {
  const rows = (r?.rows ?? []) as unknown[];
  const command = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
  return { rows, rowCount: r?.affectedRows ?? rows.length, command };
}

async function run(db: PGlite, sql: string, params?: unknown[]): Promise<PgLikeResult> {
  if (params && params.length > 0) return toPgResult(sql, await db.query(sql, params));
  const all = await db.exec(sql);
  return toPgResult(sql, all[all.length - 1]);
}

class PgliteConnection extends EventEmitter {
  constructor(private readonly db: PGlite) {
    super();
  }
  query(sql: string, params?: unknown[]): Promise<PgLikeResult> {
    return run(this.db, sql, params);
  }
}

/** Builds the module object TypeORM expects in `driver:` (it only uses `Pool`). */
export function pgliteDriverModule(db: PGlite): { Pool: new () => EventEmitter } {
  const mutex = new Mutex();
  class Pool extends EventEmitter {
    connect(cb: (err: Error | null, conn: PgliteConnection | null, release: () => void) => void): void {
      void mutex.lock().then((unlock) => {
        let released = false;
        cb(null, new PgliteConnection(db), () => {
          if (!released) {
            released = true;
            unlock();
          }
        });
      });
    }
    query(sql: string, params?: unknown[] | Callback<PgLikeResult>, cb?: Callback<PgLikeResult>): Promise<PgLikeResult> {
      const callback = typeof params === 'function' ? params : cb;
      const values = typeof params === 'function' ? undefined : params;
      const p = mutex.lock().then(async (unlock) => {
        try {
          return await run(db, sql, values);
        } finally {
          unlock();
        }
      });
      if (callback) p.then((r) => callback(null, r), (e: Error) => callback(e));
      return p;
    }
    end(cb?: (err: Error | null) => void): void {
      // The PGlite instance is closed by its owner (src/db/database.ts).
      cb?.(null);
    }
  }
  return { Pool };
}
