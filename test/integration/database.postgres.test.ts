import { after } from 'node:test';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.js';
import { requirePostgres } from '../helpers/requirements.js';
import { databaseSuite } from './suites/database.js';

const gate = await requirePostgres();
if (!gate.skip) {
  // One fresh database per test in this file (each test expects an empty schema).
  const made: TestDatabase[] = [];
  const fresh = async (): Promise<TestDatabase> => {
    const d = await createPostgresDatabase();
    made.push(d);
    return d;
  };
  const dbs = [await fresh(), await fresh(), await fresh()];
  after(async () => {
    for (const d of made) await d.drop();
  });
  databaseSuite(
    'PostgreSQL',
    (() => {
      let i = 0;
      return () => ({ kind: 'postgres' as const, url: dbs[i++ % 2]!.url });
    })(),
    () => ({ kind: 'postgres', url: dbs[2]!.url }),
  );
}
