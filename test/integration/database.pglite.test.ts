import path from 'node:path';
import { databaseSuite } from './suites/database.js';
import { tempDir } from '../helpers/tmp.js';

databaseSuite(
  'PGlite',
  () => ({ kind: 'pglite', url: 'pglite://memory', dir: null }),
  () => {
    const dir = path.join(tempDir('sc-db-'), 'db');
    return { kind: 'pglite', url: `pglite://${dir}`, dir };
  },
);
