import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { databaseSuite } from './suites/database.js';

databaseSuite(
  'PGlite',
  () => ({ kind: 'pglite', url: 'pglite://memory', dir: null }),
  () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'sc-db-')), 'db');
    return { kind: 'pglite', url: `pglite://${dir}`, dir };
  },
);
