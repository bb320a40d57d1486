import { after, before } from 'node:test';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.js';
import { requirePostgres } from '../helpers/requirements.js';
import { controlPlaneSuite } from './suites/control-plane.js';

const gate = await requirePostgres();
let db: TestDatabase | null = null;
if (!gate.skip) {
  before(async () => {
    db = await createPostgresDatabase();
  });
  after(async () => {
    await db?.drop();
  });
  controlPlaneSuite('PostgreSQL', () => db!.url);
}
