// The PGlite worker thread (see pglite-thread.ts). Plain JavaScript on purpose: it
// must load in a worker whatever TypeScript loader the main thread was started with.
//
// workerData: { dir: string | null, template: ArrayBuffer | null, makeTemplate: boolean }
// in:  { id, op: 'query' | 'exec' | 'close', sql?, params? }
// out: { ready: true, template? } | { ready: false, error } once, then { id, ok, result | error }
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

/** An error as plain data: its message and the PostgreSQL fields (code, detail, constraint, …). */
function plainError(err) {
  const out = { message: err instanceof Error ? err.message : String(err), name: err?.name ?? 'Error' };
  if (err && typeof err === 'object') {
    for (const [k, v] of Object.entries(err)) {
      if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
    }
  }
  return out;
}

let db;
try {
  const { dir, template, makeTemplate } = workerData;
  let made = null;
  if (dir) {
    db = await PGlite.create(dir);
  } else if (template) {
    db = await PGlite.create({ loadDataDir: new Blob([template]) });
  } else {
    db = await PGlite.create();
    if (makeTemplate) made = await (await db.dumpDataDir('none')).arrayBuffer();
  }
  parentPort.postMessage({ ready: true, template: made }, made ? [made] : []);
} catch (err) {
  parentPort.postMessage({ ready: false, error: plainError(err) });
  process.exit(1);
}

parentPort.on('message', async (msg) => {
  const { id, op } = msg;
  try {
    let result;
    if (op === 'query') result = await db.query(msg.sql, msg.params);
    else if (op === 'exec') result = await db.exec(msg.sql);
    else if (op === 'close') {
      await db.close();
      parentPort.postMessage({ id, ok: true, result: null });
      parentPort.close();
      return;
    } else throw new Error(`unknown op ${op}`);
    parentPort.postMessage({ id, ok: true, result });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, error: plainError(err) });
  }
});
