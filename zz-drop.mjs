import { PGlite } from '@electric-sql/pglite';
const db = await PGlite.create();
console.log((await db.query('select current_database()')).rows);
for (const sql of ["ALTER DATABASE template0 WITH IS_TEMPLATE false", "DROP DATABASE template0", "ALTER DATABASE template1 WITH IS_TEMPLATE false", "DROP DATABASE template1"]) {
  try { await db.exec(sql); console.log('ok', sql); } catch (e) { console.log('ERR', sql, e.message); }
}
await db.exec('CHECKPOINT');
const blob = await db.dumpDataDir('none');
console.log('size', blob.size);
await db.close();
const t0 = performance.now();
const db2 = await PGlite.create({ loadDataDir: blob });
console.log('reopen', Math.round(performance.now() - t0), (await db2.query('select datname from pg_database')).rows);
await db2.exec('create table t(x int)'); console.log('create table ok');
