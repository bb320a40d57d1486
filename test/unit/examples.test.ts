import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config.js';

const dir = fileURLToPath(new URL('../../examples/cascade/', import.meta.url));
const failoverDir = fileURLToPath(new URL('../../examples/failover/', import.meta.url));

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

test('the failover example is valid: a region with two HQs by priority, an edge below it', () => {
  const files = readdirSync(failoverDir).filter((f) => f.endsWith('.yaml')).sort();
  assert.deepEqual(files, ['edge.yaml', 'hq-a.yaml', 'hq-b.yaml', 'region.yaml']);
  const [edge, hqA, hqB, region] = files.map((f) => loadConfigFile(path.join(failoverDir, f)));
  const servers = region!.cascadeClient!.servers;
  assert.deepEqual(
    servers.map((s) => [s.server.port, s.priority]),
    [
      [hqA!.cascadeServer!.listen.port, 1],
      [hqB!.cascadeServer!.listen.port, 2],
    ],
  );
  assert.equal(region!.cascadeClient!.failbackMs, 30_000);
  assert.equal(edge!.cascadeClient?.server.port, region!.cascadeServer?.listen.port);
  const all = [hqA, hqB, region, edge];
  const ports = all.flatMap((c) => [c!.http.listen.port, c!.rtmp.listen.port, c!.cascadeServer?.listen.port]).filter(Boolean);
  assert.equal(new Set(ports).size, ports.length, 'distinct ports');
  assert.equal(new Set(all.map((c) => c!.datadir)).size, 4, 'distinct datadirs');
});
