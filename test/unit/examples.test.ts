import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config.js';

const dir = fileURLToPath(new URL('../../examples/cascade/', import.meta.url));

test('every example config is valid and the tree is wired HQ ← region ← edge', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  assert.deepEqual(files, ['edge.yaml', 'hq.yaml', 'region.yaml']);
  const [edge, hq, region] = files.map((f) => loadConfigFile(path.join(dir, f)));
  assert.equal(region!.cascadeClient?.server.port, hq!.cascadeServer?.listen.port);
  assert.equal(edge!.cascadeClient?.server.port, region!.cascadeServer?.listen.port);
  const ports = [hq, region, edge].flatMap((c) => [c!.http.listen.port, c!.rtmp.listen.port, c!.cascadeServer?.listen.port]).filter(Boolean);
  assert.equal(new Set(ports).size, ports.length, 'distinct ports');
  assert.equal(new Set([hq, region, edge].map((c) => c!.datadir)).size, 3, 'distinct datadirs');
});
