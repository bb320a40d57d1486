/** Every migration in order, listed explicitly (globs break under tsx). */
import { Init1764000000001 } from './0001-init.js';
import { LinkStatus1764000000002 } from './0002-link-status.js';
import { PullRules1764000000003 } from './0003-pull-rules.js';
import { KeyedSecrets1764000000004 } from './0004-keyed-secrets.js';

export const MIGRATIONS = [Init1764000000001, LinkStatus1764000000002, PullRules1764000000003, KeyedSecrets1764000000004];
/** Their names, in order: the key of the PGlite template (src/db/pglite-template.ts). */
export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map((m) => m.name);
