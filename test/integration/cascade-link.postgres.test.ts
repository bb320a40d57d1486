import { after } from 'node:test';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.js';
import { requirePostgres } from '../helpers/requirements.js';
import { cascadeLinkSuite } from './suites/cascade-link.js';

const gate = await requirePostgres();
if (!gate.skip) {
  // Each server node of this file gets a fresh database.
  const made: TestDatabase[] = [];
  after(async () => {
    for (const d of made) await d.drop().catch(() => {});
  });
  cascadeLinkSuite('PostgreSQL', async () => {
    const d = await createPostgresDatabase();
    made.push(d);
    return d.url;
  });
}
