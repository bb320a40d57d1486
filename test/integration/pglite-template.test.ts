/**
 * The PGlite template (src/db/pglite-template.ts): a database copied from it has the
 * schema and migration history the migrations make; a missing, stale or broken template
 * falls back to initdb and still gives that schema. Real PGlite on disk and in memory.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { MIGRATION_NAMES, openDatabase, type Database, type OpenOptions } from '../../src/db/database.js';
import { findTemplate, templateFile } from '../../src/db/pglite-template.js';
import type { DatabaseConfig } from '../../src/config.js';

const log = pino({ level: 'silent' });
const ROOT = path.resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(path.join(tmpdir(), 'sc-template-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
function onDisk(): DatabaseConfig & { dir: string } {
  const dir = path.join(scratch, `d${++n}`, 'db');
  return { kind: 'pglite', url: `pglite://${dir}`, dir };
}
const inMemory: DatabaseConfig = { kind: 'pglite', url: 'pglite://memory', dir: null };

/** Columns, indexes, constraints and the migration history of the public schema. */
async function schemaOf(db: Database): Promise<unknown> {
  const q = (sql: string): Promise<unknown[]> => db.dataSource.query(sql);
  return {
    columns: await q(`SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default, character_maximum_length
                      FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`),
    indexes: await q(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname`),
    constraints: await q(`SELECT table_name, constraint_name, constraint_type FROM information_schema.table_constraints
                          WHERE table_schema = 'public' ORDER BY table_name, constraint_name`),
    migrations: await q(`SELECT id, timestamp, name FROM migrations ORDER BY id`),
  };
}

async function open(cfg: DatabaseConfig, opts: OpenOptions = {}): Promise<{ origin: string; schema: unknown }> {
  const db = await openDatabase(cfg, log, opts);
  try {
    return { origin: db.pglite?.origin ?? 'none', schema: await schemaOf(db) };
  } finally {
    await db.close();
  }
}

let migrated: unknown;

before(async () => {
  // The template `npm run build` makes; made here the same way when this checkout has none.
  if (!findTemplate(MIGRATION_NAMES).found) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/db/make-template.ts'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  // The reference is made by initdb and the migrations, the way a missing template falls back.
  const cfg = onDisk();
  const ref = await open(cfg, { template: path.join(scratch, 'missing.tar') });
  assert.equal(ref.origin, 'initdb');
  assert.deepEqual(readdirSync(path.dirname(cfg.dir)).sort(), ['db'], 'missing template: nothing left beside the database');
  migrated = ref.schema;
  assert.ok((migrated as { migrations: unknown[] }).migrations.length === MIGRATION_NAMES.length, 'every migration ran');
});

test('a database copied from the template has the schema and history the migrations make, on disk and in memory', async () => {
  const cfg = onDisk();
  const made = await open(cfg);
  assert.equal(made.origin, 'template');
  assert.deepEqual(made.schema, migrated);
  const reopened = await open(cfg);
  assert.equal(reopened.origin, 'existing');
  assert.deepEqual(reopened.schema, migrated);
  assert.deepEqual(readdirSync(path.dirname(cfg.dir)).sort(), ['db'], 'no unpacking directory left beside it');
  const memory = await open(inMemory);
  assert.equal(memory.origin, 'template');
  assert.deepEqual(memory.schema, migrated);
});

test('a truncated or foreign template (a missing one: the reference above): the new database is made by initdb and migrated', async () => {
  const real = readFileSync(findTemplate(MIGRATION_NAMES).file);
  const truncated = path.join(scratch, 'truncated.tar');
  writeFileSync(truncated, real.subarray(0, real.length >> 1));
  const foreign = path.join(scratch, 'foreign.tar');
  writeFileSync(foreign, Buffer.alloc(4096, 'not a tar'));
  for (const file of [truncated, foreign]) {
    const cfg = onDisk();
    const made = await open(cfg, { template: file });
    assert.equal(made.origin, 'initdb', file);
    assert.deepEqual(made.schema, migrated, file);
    assert.deepEqual(readdirSync(path.dirname(cfg.dir)).sort(), ['db'], `${file}: nothing left from the failed copy`);
  }
});

test('the template is keyed by the migrations: after a new migration the old file is stale and not used', () => {
  const now = templateFile(MIGRATION_NAMES);
  const next = templateFile([...MIGRATION_NAMES, 'Next1799999999999']);
  assert.notEqual(next, now);
  assert.equal(path.dirname(next), path.dirname(now));
  assert.equal(findTemplate([...MIGRATION_NAMES, 'Next1799999999999']).found, false);
  assert.equal(findTemplate(MIGRATION_NAMES).found, true);
});
