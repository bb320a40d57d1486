/**
 * Makes the PGlite template (src/db/pglite-template.ts): a fresh in-memory database,
 * every migration, then its data directory written as a tar. Run by `npm run build`
 * (and so by `npm install`); prints where the file went.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../logger.js';
import { MIGRATION_NAMES, openDatabase } from './database.js';
import { templateFile } from './pglite-template.js';

const file = templateFile(MIGRATION_NAMES);
const db = await openDatabase({ kind: 'pglite', url: 'pglite://memory', dir: null }, createLogger('warn', 'template'), { template: false });
try {
  const tar = await db.pglite!.dumpDataDir();
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.from(tar));
  renameSync(tmp, file);
  process.stdout.write(`PGlite template: ${file} (${(tar.byteLength / 1e6).toFixed(1)} MB)\n`);
} finally {
  await db.close();
}
