import { after } from 'node:test';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.js';
import { requirePostgres } from '../helpers/requirements.js';
import { pullRulesSuite } from './forwarding-rules-suite.js';

const gate = await requirePostgres();
if (!gate.skip) {
  const made: TestDatabase[] = [];
  after(async () => {
    for (const d of made) await d.drop().catch(() => {});
  });
  pullRulesSuite('PostgreSQL', async () => {
    const d = await createPostgresDatabase();
    made.push(d);
    return d.url;
  });
}
