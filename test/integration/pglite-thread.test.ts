/**
 * PGlite in its worker thread (src/db/pglite-thread.ts): PostgreSQL errors keep their
 * fields, and a crashed worker fails calls as "database unavailable" and, on disk, comes
 * back on the next call with what was committed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openPgliteThread, PGLITE_GONE } from '../../src/db/pglite-thread.js';
import { isDatabaseUnavailable } from '../../src/db/unavailable.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

test('errors carry their SQLSTATE and fields', async () => {
  const db = await openPgliteThread(null);
  try {
    await db.exec('CREATE TABLE t (k text PRIMARY KEY)');
    await db.query('INSERT INTO t VALUES ($1)', ['a']);
    const err = await db.query('INSERT INTO t VALUES ($1)', ['a']).then(
      () => null,
      (e: unknown) => e as { code?: string; constraint?: string; message: string },
    );
    assert.ok(err !== null, 'a duplicate key is refused');
    assert.equal(err.code, '23505');
    assert.equal(err.constraint, 't_pkey');
    assert.match(err.message, /duplicate key/);
    assert.equal(isDatabaseUnavailable(err), false, 'a bad query is not an outage');
  } finally {
    await db.close();
  }
});

test('a crashed worker: calls fail as unavailable; on disk the next call reopens with the committed data', async () => {
  const dir = tempDir('sc-pglite-thread-');
  const db = await openPgliteThread(path.join(dir, 'db'));
  try {
    await db.exec('CREATE TABLE t (k text PRIMARY KEY)');
    await db.query('INSERT INTO t VALUES ($1)', ['kept']);
    const slow = db.query('SELECT pg_sleep(2)');
    await new Promise((r) => setTimeout(r, 100));
    await db.crashForTest();
    const err = await slow.then(
      () => null,
      (e: unknown) => e as { code?: string },
    );
    assert.ok(err !== null, 'the call in flight fails');
    assert.equal(err.code, PGLITE_GONE);
    assert.equal(isDatabaseUnavailable(err), true, 'and says the database is unavailable (503)');
    const rows = (await db.query('SELECT k FROM t')).rows;
    assert.deepEqual(rows, [{ k: 'kept' }], 'a new worker on the same directory has the committed row');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('a crashed in-memory worker cannot come back: calls keep failing as unavailable, close still works', async () => {
  const db = await openPgliteThread(null);
  await db.exec('SELECT 1');
  await db.crashForTest();
  await new Promise((r) => setTimeout(r, 50));
  const err = await db.exec('SELECT 1').then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(isDatabaseUnavailable(err));
  await db.close();
  await db.close();
});
