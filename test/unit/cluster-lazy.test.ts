/**
 * A node without `cluster:` never loads the Redis client: the program imports ioredis
 * only as types, and at run time only through the dynamic import of the one file that
 * opens connections (called when `cluster:` is set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

test('ioredis is imported for types only, and loaded by one dynamic import', () => {
  const files = ['src', 'dataplane', 'resolvers'].flatMap(sources);
  const statics: string[] = [];
  const dynamics: string[] = [];
  for (const f of files) {
    const text = readFileSync(path.join(ROOT, f), 'utf8');
    for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'ioredis'/gm)) if (!m[2]) statics.push(f);
    if (/await import\('ioredis'\)/.test(text)) dynamics.push(f);
  }
  assert.deepEqual(statics, [], 'no value import of ioredis');
  assert.deepEqual(dynamics, [path.join('src', 'cluster', 'redis-connection.ts')]);
});
