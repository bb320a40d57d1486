/**
 * The console's files as the node serves them: content types and caching of the
 * built console at `/`, and a page saying how to build it when it is missing (served
 * by the same handler pointed at an empty folder, which is then filled: no restart).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { consoleFiles } from '../../src/http/console-files.js';
import { createLogger } from '../../src/logger.js';
import { listenOn } from '../../src/http/http-server.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

describe('console files', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode({ name: 'console-files' });
  });
  after(() => node?.stop());

  test('the built console: index.html revalidated, hashed assets immutable, right types', async () => {
    const index = await fetch(`${node.url}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await index.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), `assets in ${html}`);
    for (const a of assets) {
      const r = await fetch(node.url + a);
      assert.equal(r.status, 200, a);
      assert.equal(r.headers.get('content-type'), a.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.ok((await r.arrayBuffer()).byteLength > 1000);
    }
    assert.equal((await fetch(`${node.url}/assets/nope.js`)).status, 404);
    const traversal = await fetch(`${node.url}/assets/..%2F..%2Fpackage.json`);
    assert.equal(traversal.status, 404);
  });

  test('without a built console `/` says how to build it; once built it is served', async () => {
    const dir = tempDir('sc-console-files-');
    const files = consoleFiles(createLogger('silent', 't'), dir);
    const server = http.createServer((req, res) => {
      if (!files.handleRequest?.(req, res)) res.writeHead(418).end();
    });
    try {
      const a = await listenOn(server, { host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${a.port}`;
      const missing = await fetch(`${url}/`);
      assert.equal(missing.status, 404);
      assert.match(await missing.text(), /console is not built[\s\S]*npm run build/);
      mkdirSync(path.join(dir, 'assets'));
      writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>built</title>');
      writeFileSync(path.join(dir, 'assets', 'a-1.js'), 'export {};');
      const built = await fetch(`${url}/`);
      assert.equal(built.status, 200);
      assert.equal(await built.text(), '<!doctype html><title>built</title>');
      assert.equal((await fetch(`${url}/assets/a-1.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal((await fetch(`${url}/graphql`)).status, 418, 'other paths are not its own');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      removeDir(dir);
    }
  });
});
