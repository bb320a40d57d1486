/**
 * Databases for tests: PGlite in memory, or a fresh PostgreSQL database per
 * test file (created on the server named by PG_ADMIN_URL, dropped afterwards).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_ADMIN_URL } from './requirements.js';

export type DbKind = 'pglite' | 'postgres';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createPostgresDatabase(): Promise<TestDatabase> {
  const name = `sc_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export function pgliteMemory(): TestDatabase {
  return { url: 'pglite://memory', drop: async () => {} };
}
