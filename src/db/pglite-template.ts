/**
 * The PGlite template: a data directory made once at install time (initdb plus every
 * migration, without initdb's template databases; `npm run build`), from which every new embedded database is copied instead
 * of running initdb (~4 s and ~800 MB of memory) and the migrations at first start.
 *
 * It is a tar from PGlite's `dumpDataDir`, stored outside git under
 * node_modules/.cache/stream-cascade/, and named by a key of the PGlite version and the
 * list of migrations: after an upgrade of either, the old file no longer matches, and a
 * new database falls back to initdb (slower, still correct) until the next build.
 * Migrations still run at every open; on a database copied from a current template they
 * find nothing to do.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bumped when the way the template is made changes. */
const FORMAT = 2;

function pgliteRoot(): string {
  // .../node_modules/@electric-sql/pglite/dist/index.js
  return path.resolve(path.dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))), '..');
}

/** The installed PGlite version. */
function pgliteVersion(): string {
  return (JSON.parse(readFileSync(path.join(pgliteRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Where the template for this PGlite version and these migrations (names, in order) lives. */
export function templateFile(migrations: readonly string[]): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ format: FORMAT, pglite: pgliteVersion(), migrations }))
    .digest('hex')
    .slice(0, 16);
  const nodeModules = path.resolve(pgliteRoot(), '..', '..');
  return path.join(nodeModules, '.cache', 'stream-cascade', `pglite-template-${key}.tar`);
}

/** The template file if one matching these migrations exists, else null. */
export function findTemplate(migrations: readonly string[]): { file: string; found: boolean } {
  const file = templateFile(migrations);
  return { file, found: existsSync(file) };
}
