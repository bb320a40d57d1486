/**
 * Database suite, run on PGlite and on PostgreSQL: migrations match the
 * entities; interleaved transactions stay isolated; records survive a restart.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { openDatabase } from '../../../src/db/database.js';
import { LowerNode } from '../../../src/db/entities/lower-node.entity.js';
import type { DatabaseConfig } from '../../../src/config.js';

const log = pino({ level: 'silent' });

export function databaseSuite(label: string, cfg: () => DatabaseConfig, reopenable: () => DatabaseConfig): void {
  describe(`database on ${label}`, () => {
    test('migrations on a fresh database match the entities', async () => {
      const db = await openDatabase(cfg(), log);
      try {
        const pending = await db.dataSource.showMigrations();
        assert.equal(pending, false, 'no pending migrations after open');
        const sql = await db.dataSource.driver.createSchemaBuilder().log();
        assert.deepEqual(
          sql.upQueries.map((q) => q.query),
          [],
          'the schema the migrations made is exactly what the entities describe',
        );
      } finally {
        await db.close();
      }
    });

    test('interleaved transactions: a rollback leaks nothing, a commit keeps only its own rows', async () => {
      const db = await openDatabase(cfg(), log);
      try {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        let insideA!: () => void;
        const aStarted = new Promise<void>((r) => (insideA = r));
        const a = db.transaction(async (m) => {
          await m.getRepository(LowerNode).save({ name: 'tx-a', secretHash: 'a'.repeat(64), online: false, autoregistered: false });
          insideA();
          await gate;
          throw new Error('roll back A');
        });
        await aStarted;
        const b = db.transaction(async (m) => {
          await m.getRepository(LowerNode).save({ name: 'tx-b', secretHash: 'b'.repeat(64), online: false, autoregistered: false });
          // B must not see A's uncommitted row.
          const seen = await m.getRepository(LowerNode).findOneBy({ name: 'tx-a' });
          return seen;
        });
        // Let B try to run while A is open, then let A roll back.
        await new Promise((r) => setTimeout(r, 100));
        release();
        await assert.rejects(a, /roll back A/);
        const seenByB = await b;
        assert.equal(seenByB, null, 'B never saw A');
        const names = (await db.dataSource.getRepository(LowerNode).find({ order: { name: 'ASC' } })).map((c) => c.name);
        assert.deepEqual(names, ['tx-b'], 'A rolled back, B committed');
      } finally {
        await db.close();
      }
    });

    test('records survive a close and reopen', async () => {
      const c = reopenable();
      const db1 = await openDatabase(c, log);
      await db1.dataSource.getRepository(LowerNode).save({ name: 'durable', secretHash: null, online: true, autoregistered: false });
      await db1.close();
      const db2 = await openDatabase(c, log);
      try {
        const row = await db2.dataSource.getRepository(LowerNode).findOneBy({ name: 'durable' });
        assert.ok(row, 'the record is still there');
        const again = await db2.dataSource.showMigrations();
        assert.equal(again, false);
      } finally {
        await db2.close();
      }
    });
  });
}
