/**
 * Redis killed (-9) and restarted empty under a live cluster of two replicas, a lower
 * node and a stream: one warning per connection, the records and the stream keep
 * answering meanwhile, and within a few seconds of Redis' return the replicas have
 * re-registered their leases, links and streams and events cross again. A replica that
 * dies while Redis is away has its lower node shown offline after Redis is back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runProgram, writeConfig, writeNodeConfig } from '../helpers/process-node.js';
import { gql, startNode, waitFor, type TestNode } from '../helpers/node.js';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.js';
import { requirePostgres, requireRedisServer } from '../helpers/requirements.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { subscribe, type Collector } from '../helpers/ws-client.js';
import {
  ClusterClientChangedDocument,
  ClusterClientsDocument,
  ClusterReplicasDocument,
  ClusterStreamsDocument,
  CreateClientDocument,
  AddPullRuleDocument,
  PullRulesDocument,
  RemovePullRuleDocument,
  type ClusterClientChangedSubscription,
} from '../generated/graphql.js';
import { liveSynthetic } from './forwarding-helpers.js';
import { dropPrefix, freeTcpPort, readFlv, startPrivateRedis, startReplicas, testPrefix, type Replica } from './cluster-helpers.js';

const pgGate = await requirePostgres();
const gate = pgGate.skip ? pgGate : requireRedisServer();

describe('cluster: Redis restarted under load', gate, () => {
  const tmp = tempDir('sc-cluster-redis-');
  const prefix = testPrefix('cluster-redis');
  let db: TestDatabase;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>> | null = null;
  let port: number;
  let a: Replica, b: Replica;
  let edge: TestNode | undefined;
  let publishing: { stop(): void } | undefined;
  let changes: Collector<ClusterClientChangedSubscription> | undefined;

  before(async () => {
    port = await freeTcpPort();
    redis = await startPrivateRedis(port);
    db = await createPostgresDatabase();
    [a, b] = (await startReplicas(['hq-a', 'hq-b'], { tmp, dbUrl: db.url, prefix, redisUrl: `redis://127.0.0.1:${port}/0`,
      leaseTtlMs: 2_000,
      // A client role (its upper node never answers) so that pull rules can be changed here.
      extra: { 'cascade-client': { server: '127.0.0.1:9', secret: 'no-upper-here-secret', trust: 'tofu' } },
    })) as [Replica, Replica];
  });
  after(async () => {
    await changes?.close();
    publishing?.stop();
    await edge?.stop().catch(() => {});
    for (const r of [a, b]) await r?.stop('SIGKILL').catch(() => {});
    await redis?.stop();
    await db?.drop();
    await dropPrefix(prefix).catch(() => {}); // the private Redis is gone; nothing of this file is in the shared one
    removeDir(tmp);
  });

  test('no Redis at start: the node exits with one line naming cluster.redis, without the password', async () => {
    const closed = await freeTcpPort();
    const cfg = writeNodeConfig(tmp, 'no-redis', {
      database: { url: 'pglite://memory' },
      cluster: { redis: `redis://:hunter2hunter2@127.0.0.1:${closed}/0` },
    });
    const r = await runProgram(['--config', cfg]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`cluster\\.redis: cannot connect to redis://:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/0 \\(ECONNREFUSED\\)`));
    assert.ok(!(r.stdout + r.stderr).includes('hunter2'), 'the password is never printed');
  });

  test('a pull rule added on A is in force on B within 1 s', async () => {
    assert.deepEqual((await gql({ url: b.httpUrl }, PullRulesDocument)).data?.pullRules, [], 'none on B yet');
    const added = await gql({ url: a.httpUrl }, AddPullRuleDocument, { streamPath: 'live/from-above', pullUrl: 'cascade://live/from-above' });
    assert.ifError(added.errors);
    const t0 = Date.now(); // from A's answer (a replica's first GraphQL call also loads its schema: B's was above)
    await waitFor(async () => (await gql({ url: b.httpUrl }, PullRulesDocument)).data?.pullRules.some((r) => r.streamPath === 'live/from-above'), 2_000, 'rule on B');
    assert.ok(Date.now() - t0 < 1_000, `${Date.now() - t0} ms`);
    await gql({ url: b.httpUrl }, RemovePullRuleDocument, { streamPath: 'live/from-above' });
    await waitFor(async () => (await gql({ url: a.httpUrl }, PullRulesDocument)).data?.pullRules.length === 0, 2_000, 'rule gone on A');
  });

  test('clean errors while it is away, everything registered again and events crossing after it is back', async () => {
    const secret = 'edge-redis-secret-1234';
    const id = (await gql({ url: b.httpUrl }, CreateClientDocument, { name: 'edge-r', secret })).data!.createClient.id;
    edge = await startNode({ name: 'edge-r', 'cascade-client': { server: `127.0.0.1:${a.quicPort}`, secret, autopush: true } });
    publishing = liveSynthetic(edge, 'live/redis-cam');
    const heldByA = async (): Promise<boolean> => {
      const rec = (await gql({ url: b.httpUrl }, ClusterClientsDocument)).data?.clients.find((c) => c.id === id);
      const streams = (await gql({ url: b.httpUrl }, ClusterStreamsDocument)).data?.streams ?? [];
      return rec?.replica === 'hq-a' && streams.some((s) => s.path === 'live/redis-cam' && s.replica === 'hq-a');
    };
    await waitFor(heldByA, 20_000, 'B shows the link and the stream on A');

    await redis!.stop();
    const down = Date.now();
    await a.waitLog((l) => l.msg === 'cluster: Redis unreachable; reconnecting', 10_000);
    // Meanwhile: the records answer (from PostgreSQL), the lower node stays linked, the stream plays.
    const during = (await gql({ url: b.httpUrl }, ClusterClientsDocument)).data?.clients.find((c) => c.id === id);
    assert.equal(during?.online, true, 'still online in the records');
    const play = await readFlv(`${a.httpUrl}/live/redis-cam.flv`, 30_000);
    assert.equal(play.firstVideoKey, true);
    assert.equal(edge.app.services.cascade.upstream()?.state, 'online');

    redis = await startPrivateRedis(port);
    const back = Date.now();
    await waitFor(heldByA, 15_000, 'B shows the link and the stream on A again');
    const recovered = Date.now() - back;
    const replicas = (await gql({ url: b.httpUrl }, ClusterReplicasDocument)).data?.cluster?.replicas.map((r) => r.name);
    assert.deepEqual(replicas, ['hq-a', 'hq-b']);
    changes = await subscribe(b.httpUrl, ClusterClientChangedDocument);
    const made = await gql({ url: a.httpUrl }, CreateClientDocument, { name: 'after-restart', secret: 'after-restart-secret-1' });
    await changes.next((e) => e.clientChanged.kind === 'CREATED' && e.clientChanged.client.id === made.data!.createClient.id, 5_000);
    process.stdout.write(`# Redis away ${back - down} ms; everything registered again ${recovered} ms after its return\n`);
    for (const r of [a, b]) {
      const warnings = r.lines.filter((l) => l.msg === 'cluster: Redis unreachable; reconnecting').length;
      assert.ok(warnings >= 1 && warnings <= 2, `${r.name}: one warning per connection, not a storm (${warnings})`);
      assert.equal(r.lines.filter((l) => Number(l.level) >= 50).length, 0, `${r.name} logged no error`);
      assert.equal(r.stderr, '', `${r.name} wrote nothing to stderr`);
    }
  });

  test('a replica stalled past its lease is reaped; when it runs again its lower node is online again, held by it', async () => {
    const id = (await gql({ url: b.httpUrl }, ClusterClientsDocument)).data!.clients.find((c) => c.name === 'edge-r')!.id;
    const rec = async (): Promise<{ online: boolean; replica?: string | null } | undefined> =>
      (await gql({ url: b.httpUrl }, ClusterClientsDocument)).data?.clients.find((c) => c.id === id);
    a.child.kill('SIGSTOP');
    try {
      await waitFor(async () => (await rec())?.online === false, 10_000, 'edge-r offline while A is stopped');
    } finally {
      a.child.kill('SIGCONT');
    }
    const resumed = Date.now();
    await waitFor(async () => {
      const r = await rec();
      return r?.online === true && r.replica === 'hq-a';
    }, 10_000, 'edge-r online again, held by A');
    process.stdout.write(`# stalled replica: its lower node online again ${Date.now() - resumed} ms after it resumed\n`);
    await a.waitLog((l) => l.msg === 'cluster: lease was gone (Redis restarted or this replica stalled); taken again', 1_000);
  });

  test('a replica killed while Redis is away: once Redis is back its lower node is shown offline', async () => {
    const id = (await gql({ url: b.httpUrl }, ClusterClientsDocument)).data!.clients.find((c) => c.name === 'edge-r')!.id;
    await redis!.stop();
    a.child.kill('SIGKILL');
    await a.exited;
    redis = await startPrivateRedis(port);
    const back = Date.now();
    await waitFor(async () => {
      const rec = (await gql({ url: b.httpUrl }, ClusterClientsDocument)).data?.clients.find((c) => c.id === id);
      return rec?.online === false;
    }, 20_000, 'edge-r offline');
    process.stdout.write(`# replica killed while Redis was away: its lower node offline ${Date.now() - back} ms after Redis' return (lease 2 s)\n`);
    await b.waitLog((l) => l.msg === 'cluster: record online with no replica holding its link: offline' && l.clientId === id, 1_000);
  });
});
