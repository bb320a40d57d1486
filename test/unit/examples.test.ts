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

test('the cluster example: three replicas of one database and Redis, distinct names, ports and datadirs, one certificate', () => {
  const cdir = fileURLToPath(new URL('../../examples/cluster/', import.meta.url));
  const files = readdirSync(cdir).filter((f) => f.endsWith('.yaml')).sort();
  assert.deepEqual(files, ['hq-1.yaml', 'hq-2.yaml', 'hq-3.yaml']);
  const cs = files.map((f) => loadConfigFile(path.join(cdir, f)));
  assert.equal(new Set(cs.map((c) => c.database.url)).size, 1, 'one database');
  assert.equal(new Set(cs.map((c) => c.cluster?.redisUrl)).size, 1, 'one Redis');
  assert.equal(new Set(cs.map((c) => c.cluster?.secret)).size, 1, 'one cluster secret');
  assert.ok(cs.every((c) => c.database.kind === 'postgres' && c.cluster?.secret));
  assert.deepEqual(cs.map((c) => c.cluster?.replica), ['hq-1', 'hq-2', 'hq-3']);
  assert.equal(new Set(cs.map((c) => c.cascadeServer?.certFile)).size, 1, 'one certificate');
  const ports = cs.flatMap((c) => [c.http.listen.port, c.rtmp.listen.port, c.cascadeServer?.listen.port]);
  assert.equal(new Set(ports).size, 9, 'distinct ports');
  assert.equal(new Set(cs.map((c) => c.datadir)).size, 3, 'distinct datadirs');
});
