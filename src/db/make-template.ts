/**
 * Makes the PGlite template (src/db/pglite-template.ts): a fresh in-memory database,
 * every migration, initdb's template databases dropped, then its data directory written
 * as a tar. Run by `npm run build` (and so by `npm install`); prints where the file went.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../logger.js';
import { MIGRATION_NAMES, openDatabase } from './database.js';
import { templateFile } from './pglite-template.js';

const file = templateFile(MIGRATION_NAMES);
const db = await openDatabase({ kind: 'pglite', url: 'pglite://memory', dir: null }, createLogger('warn', 'template'), { template: false });
try {
  // The node uses the database `postgres` only. initdb's template0 and template1 exist for
  // CREATE DATABASE, which nothing here runs: without them every new database copies
  // ~15 MB and ~600 files less (a quarter of the CPU of opening one in memory).
  for (const name of ['template0', 'template1']) {
    await db.pglite!.exec(`ALTER DATABASE ${name} WITH IS_TEMPLATE false`);
    await db.pglite!.exec(`DROP DATABASE ${name}`); // not in a transaction block: a statement of its own
  }
  const tar = await db.pglite!.dumpDataDir();
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.from(tar));
  renameSync(tmp, file);
  // Templates of earlier versions or migrations are never read again.
  for (const old of readdirSync(path.dirname(file))) {
    if (/^pglite-template-[0-9a-f]+\.tar$/.test(old) && old !== path.basename(file)) rmSync(path.join(path.dirname(file), old), { force: true });
  }
  process.stdout.write(`PGlite template: ${file} (${(tar.byteLength / 1e6).toFixed(1)} MB)\n`);
} finally {
  await db.close();
}
