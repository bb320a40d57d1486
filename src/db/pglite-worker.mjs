// The PGlite worker thread (see pglite-thread.ts). Plain JavaScript on purpose: it
// must load in a worker whatever TypeScript loader the main thread was started with.
//
// workerData: { dir: string | null, templateFile: string | null, template: ArrayBuffer | null,
//               makeTemplate: boolean, startParams: string[],
//               wasmModule: WebAssembly.Module | null (compiled once by the main thread) }
// in:  { id, op: 'query' | 'exec' | 'dump' | 'close', sql?, params? }
// out: { ready: true, origin, note?, template? } | { ready: false, error } once,
//      then { id, ok, result | error }
//
// origin: how the database came to be: 'existing' (opened), 'template' (a copy of the
// template data directory, src/db/pglite-template.ts), 'initdb' (made from scratch).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parentPort, threadId, workerData } from 'node:worker_threads';
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

/** Unpacks an uncompressed ustar archive (what PGlite's dumpDataDir('none') writes) into `dir`. */
function untar(buf, dir) {
  const text = (off, len) => {
    const s = buf.toString('latin1', off, off + len);
    const nul = s.indexOf('\0');
    return nul < 0 ? s : s.slice(0, nul);
  };
  const octal = (off, len) => {
    const n = parseInt(text(off, len).trim() || '0', 8);
    if (!Number.isFinite(n) || n < 0) throw new Error('bad number in tar header');
    return n;
  };
  let entries = 0;
  for (let off = 0; off + 512 <= buf.length; ) {
    if (buf[off] === 0) break; // end-of-archive block
    const prefix = text(off + 345, 155);
    const name = (prefix ? `${prefix}/` : '') + text(off, 100);
    const mode = octal(off + 100, 8) & 0o777;
    const size = octal(off + 124, 12);
    const type = text(off + 156, 1) || '0';
    const rel = path.normalize(name.replace(/^\/+/, ''));
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`unsafe path in tar: ${name}`);
    const target = path.join(dir, rel);
    const data = off + 512;
    if (data + size > buf.length) throw new Error('truncated tar');
    if (type === '5') mkdirSync(target, { recursive: true, mode: mode || 0o700 });
    else if (type === '0') {
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(target, buf.subarray(data, data + size), { mode: mode || 0o600 });
    } else throw new Error(`unsupported tar entry type ${type}: ${name}`);
    entries++;
    off = data + Math.ceil(size / 512) * 512;
  }
  if (!existsSync(path.join(dir, 'PG_VERSION'))) throw new Error(`not a data directory (${entries} entries, no PG_VERSION)`);
}

/** A new data directory at `dir` from the template: unpacked beside it, then renamed, so a crash never leaves half a database. */
function fromTemplate(templateFile, dir) {
  const tmp = `${dir}.new-${process.pid}-${threadId}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    untar(readFileSync(templateFile), tmp);
    if (existsSync(dir)) rmSync(dir, { recursive: true }); // empty (checked by the caller)
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

let db;
try {
  const { dir, templateFile, template, makeTemplate, startParams, wasmModule } = workerData;
  const options = { startParams: [...PGlite.defaultStartParams, ...startParams], ...(wasmModule ? { pgliteWasmModule: wasmModule } : {}) };
  let made = null;
  let origin = 'initdb';
  let note;
  if (dir) {
    if (existsSync(path.join(dir, 'PG_VERSION'))) origin = 'existing';
    else if (!templateFile) note = 'no database template';
    else if (existsSync(dir) && readdirSync(dir).length > 0) note = `${dir} is not empty: not using the template`;
    else {
      try {
        fromTemplate(templateFile, dir);
        origin = 'template';
      } catch (err) {
        note = `database template ${templateFile} unusable: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    db = await PGlite.create({ dataDir: dir, ...options });
  } else if (template) {
    db = await PGlite.create({ loadDataDir: new Blob([template]), ...options });
    origin = 'template';
  } else {
    db = await PGlite.create(options);
    if (makeTemplate) made = await (await db.dumpDataDir('none')).arrayBuffer();
  }
  parentPort.postMessage({ ready: true, origin, note, template: made }, made ? [made] : []);
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
    else if (op === 'dump') {
      // Everything on disk (the dump reads files, not shared buffers).
      await db.exec('CHECKPOINT');
      result = await (await db.dumpDataDir('none')).arrayBuffer();
      parentPort.postMessage({ id, ok: true, result }, [result]);
      return;
    } else if (op === 'close') {
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
