/**
 * The node's database: TypeORM over PostgreSQL (production) or PGlite (the
 * embedded default). Migrations run at open; `synchronize` is never used here.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DataSource, type EntityManager } from 'typeorm';
import type { DatabaseConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { CascadeClientSchema } from './entities/cascade-client.entity.js';
import { Init1764000000001 } from './migrations/0001-init.js';
import { LinkStatus1764000000002 } from './migrations/0002-link-status.js';
import { PullRules1764000000003 } from './migrations/0003-pull-rules.js';
import { PullRuleSchema } from './entities/pull-rule.entity.js';
import { pgliteDriverModule } from './pglite-pool.js';
import { openPgliteThread, type PgliteThread } from './pglite-thread.js';
import { findTemplate } from './pglite-template.js';

/** Every entity, listed explicitly (globs break under tsx). */
export const ENTITIES = [CascadeClientSchema, PullRuleSchema];
/** Every migration in order, listed explicitly. */
export const MIGRATIONS = [Init1764000000001, LinkStatus1764000000002, PullRules1764000000003];
/** Their names, in order: the key of the PGlite template (src/db/pglite-template.ts). */
export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map((m) => m.name);

export class DatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseError';
  }
}

export interface Database {
  readonly dataSource: DataSource;
  readonly kind: 'pglite' | 'postgres';
  /** The PGlite worker, for an embedded database. */
  readonly pglite: PgliteThread | null;
  /** Runs `fn` in a transaction. Use only the given manager inside it. */
  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T>;
  close(): Promise<void>;
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

export interface OpenOptions {
  /** For unit tests only: create the schema from entities instead of migrations. */
  synchronize?: boolean;
  /** Skip running migrations (for tests that run them by hand). */
  migrate?: boolean;
  /**
   * Make a new PGlite database from the template when there is a current one (default
   * true; never with `synchronize` or `migrate: false`, which want an empty schema).
   * A path: use that template file (tests).
   */
  template?: boolean | string;
}

/** Opens the database and runs pending migrations. */
export async function openDatabase(cfg: DatabaseConfig, logger: Logger, opts: OpenOptions = {}): Promise<Database> {
  let pglite: PgliteThread | null = null;
  let unlock: () => void = () => {};
  let dataSource: DataSource;
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: opts.synchronize ?? false,
    logging: false as const,
  };
  if (cfg.kind === 'pglite') {
    if (cfg.dir) {
      mkdirSync(path.dirname(cfg.dir), { recursive: true });
      unlock = lockDir(cfg.dir);
    }
    const wanted = opts.template !== false && !opts.synchronize && opts.migrate !== false;
    const template = !wanted ? null : typeof opts.template === 'string' ? { file: opts.template, found: true } : findTemplate(MIGRATION_NAMES);
    try {
      pglite = await openPgliteThread(cfg.dir, { templateFile: template?.found ? template.file : null });
      if (template && pglite.origin === 'initdb') {
        const why = pglite.note ?? `no current template at ${template.file} (npm run build makes it)`;
        logger.debug({ why }, 'new PGlite database made by initdb, not from the template (slower)');
      } else logger.debug({ origin: pglite.origin }, 'PGlite open');
    } catch (err) {
      unlock();
      throw new DatabaseError(`cannot open PGlite database ${cfg.dir ?? '(memory)'}: ${(err as Error).message}`);
    }
    dataSource = new DataSource({ type: 'postgres', driver: pgliteDriverModule(pglite), ...common });
  } else {
    dataSource = new DataSource({
      type: 'postgres',
      url: cfg.url,
      poolSize: 10,
      connectTimeoutMS: 5_000,
      extra: { query_timeout: 10_000, statement_timeout: 10_000 },
      poolErrorHandler: (err: Error) => logger.warn({ err: err.message }, 'database pool error'),
      ...common,
    });
  }
  try {
    await dataSource.initialize();
    if (opts.migrate !== false && !opts.synchronize) {
      const ran = await dataSource.runMigrations({ transaction: 'each' });
      for (const m of ran) logger.info({ migration: m.name }, 'database migration applied');
    }
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => {});
    await pglite?.close().catch(() => {});
    unlock();
    const where = cfg.kind === 'pglite' ? (cfg.dir ?? 'pglite://memory') : redactUrl(cfg.url);
    throw new DatabaseError(`cannot open database ${where}: ${(err as Error).message}`);
  }
  logger.info({ database: cfg.kind === 'pglite' ? (cfg.dir ?? 'memory') : redactUrl(cfg.url), kind: cfg.kind }, 'database open');
  let closed = false;
  return {
    dataSource,
    kind: cfg.kind,
    pglite,
    transaction: (fn) => dataSource.transaction(fn),
    async close() {
      if (closed) return;
      closed = true;
      await dataSource.destroy().catch((err: Error) => logger.warn({ err: err.message }, 'closing database'));
      await pglite?.close().catch((err: Error) => logger.warn({ err: err.message }, 'closing PGlite'));
      unlock();
    },
  };
}

/** Hides a password in a postgres URL for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(invalid url)';
  }
}
