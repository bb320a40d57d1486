/**
 * The node's database: TypeORM over PostgreSQL (production) or PGlite (the
 * embedded default). Migrations run at open; `synchronize` is never used here.
 */
import { DataSource, type EntityManager } from 'typeorm';
import type { DatabaseConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { LowerNodeSchema } from './entities/lower-node.entity.js';
import { MIGRATIONS } from './migrations/index.js';
import { PullRuleSchema } from './entities/pull-rule.entity.js';
import { InstallationFactSchema } from './entities/installation.entity.js';
import { pgliteDriverModule } from './pglite-pool.js';
import { DatabaseError, openPglite, takePrestartedPglite } from './pglite-open.js';
import type { PgliteThread } from './pglite-thread.js';
import { redactPassword } from '../net-address.js';

/** Every entity, listed explicitly (globs break under tsx). */
const ENTITIES = [LowerNodeSchema, PullRuleSchema, InstallationFactSchema];
export { MIGRATIONS, MIGRATION_NAMES } from './migrations/index.js';
export { DatabaseError } from './pglite-open.js';

export interface Database {
  readonly dataSource: DataSource;
  readonly kind: 'pglite' | 'postgres';
  /** The PGlite worker, for an embedded database. */
  readonly pglite: PgliteThread | null;
  /** Runs `fn` in a transaction. Use only the given manager inside it. */
  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T>;
  close(): Promise<void>;
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
    const wanted = opts.template !== false && !opts.synchronize && opts.migrate !== false;
    const template = wanted ? (opts.template ?? true) : false;
    const opened = await ((template === true ? takePrestartedPglite(cfg.dir) : null) ?? openPglite(cfg.dir, template));
    pglite = opened.pglite;
    unlock = opened.unlock;
    if (opened.templateMissed !== null) logger.debug({ why: opened.templateMissed }, 'new PGlite database made by initdb, not from the template (slower)');
    else logger.debug({ origin: pglite.origin }, 'PGlite open');
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
      const ran = await migrateAlone(dataSource, cfg.kind);
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

/** Advisory lock key of the migrations ("sc-migr"): replicas starting together on one PostgreSQL migrate one after the other. */
const MIGRATION_LOCK = 0x73632d6d696772n;

async function migrateAlone(dataSource: DataSource, kind: Database['kind']): Promise<{ name: string }[]> {
  if (kind === 'pglite') return dataSource.runMigrations({ transaction: 'each' });
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
    return await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]).catch(() => undefined);
    await lock.release();
  }
}

const redactUrl = (url: string): string => redactPassword(url, 'postgres://(invalid url)');
