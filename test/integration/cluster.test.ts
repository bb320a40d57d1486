/**
 * Three replica processes of one upper node (shared PostgreSQL and Redis): records and
 * secrets are shared, a subscription on one replica sees a lower node connect to
 * another, deletes close links wherever they are, and a replica killed with -9 is
 * noticed by the others within 10 s: its lower nodes offline, or online again at another
 * replica when they list it (`servers:`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gql, startNode, waitFor, type TestNode } from '../helpers/node.js';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.js';
import { REDIS_URL, requirePostgres, requireRedis } from '../helpers/requirements.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { subscribe, type Collector } from '../helpers/ws-client.js';
import {
  AuthRejectedDocument,
  ClusterClientChangedDocument,
  ClusterStreamChangedDocument,
  ClusterStreamsDocument,
  ClusterTopologyDocument,
  TopologyChangedDocument,
  type AuthRejectedSubscription,
  type TopologyChangedSubscription,
  type ClusterStreamChangedSubscription,
  ClusterClientsDocument,
  ClusterReplicasDocument,
  CreateClientDocument,
  DeleteClientDocument,
  type ClusterClientChangedSubscription,
} from '../generated/graphql.js';
import { liveSynthetic, playFlv } from './forwarding-helpers.js';
import { runProgram } from '../helpers/process-node.js';
import { dropPrefix, readFlv, serverNodeConfig, startReplicas, testPrefix, type Replica } from './cluster-helpers.js';

const pgGate = await requirePostgres();
const gate = pgGate.skip ? pgGate : await requireRedis();

describe('cluster of three replicas', gate, () => {
  const tmp = tempDir('sc-cluster-');
  const prefix = testPrefix('cluster');
  let db: TestDatabase;
  let a: Replica, b: Replica, c: Replica;
  const lowers: TestNode[] = [];
  let changes: Collector<ClusterClientChangedSubscription>;
  let streamChanges: Collector<ClusterStreamChangedSubscription>;
  let rejections: Collector<AuthRejectedSubscription>;
  let topologies: Collector<TopologyChangedSubscription>;

  before(async () => {
    db = await createPostgresDatabase();
    [a, b, c] = (await startReplicas(['hq-a', 'hq-b', 'hq-c'], { tmp, dbUrl: db.url, prefix })) as [Replica, Replica, Replica];
    changes = await subscribe(c.httpUrl, ClusterClientChangedDocument);
    streamChanges = await subscribe(c.httpUrl, ClusterStreamChangedDocument);
    rejections = await subscribe(c.httpUrl, AuthRejectedDocument);
    topologies = await subscribe(c.httpUrl, TopologyChangedDocument);
  });
  after(async () => {
    for (const s of [changes, streamChanges, rejections, topologies]) await s?.close();
    publishing?.stop();
    for (const n of lowers) await n.stop().catch(() => {});
    for (const r of [a, b, c]) await r?.stop('SIGKILL').catch(() => {});
    await db?.drop();
    await dropPrefix(prefix);
    removeDir(tmp);
  });

  let publishing: { stop(): void } | undefined;
  /** A lower node linked to `on`; with `failover`, the other replicas are its next servers. */
  const lower = async (name: string, on: Replica, secret: string, failover: Replica[] = []): Promise<TestNode> => {
    const servers = [{ server: `127.0.0.1:${on.quicPort}`, priority: 1 }, ...failover.map((r) => ({ server: `127.0.0.1:${r.quicPort}`, priority: 2 }))];
    const n = await startNode({
      name,
      'cascade-client': { servers, secret, autopush: true, trust: 'tofu', relayapi: { enable: true, whitelist: ['127.0.0.0/8'] } },
    });
    lowers.push(n);
    return n;
  };

  /** A record made on `maker`, and its lower node linked to `on` (waited for). */
  const linkedLower = async (name: string, maker: Replica, on: Replica): Promise<{ id: number; node: TestNode }> => {
    const secret = `${name}-secret-0123456789`;
    const made = await gql({ url: maker.httpUrl }, CreateClientDocument, { name, secret });
    assert.ifError(made.errors);
    const node = await lower(name, on, secret);
    await waitFor(() => node.app.services.cascade.upstream()?.state === 'online', 20_000, `${name} online at ${on.name}`);
    return { id: made.data!.createClient.id, node };
  };

  test('every replica sees the others', async () => {
    for (const r of [a, b, c]) {
      const res = await waitFor(async () => {
        const q = await gql({ url: r.httpUrl }, ClusterReplicasDocument);
        return q.data?.cluster?.replicas.length === 3 ? q.data.cluster : null;
      }, 15_000, `${r.name} sees three replicas`);
      assert.equal(res.replica, r.name);
      assert.deepEqual(res.replicas.map((x) => [x.name, x.self]), [['hq-a', r === a], ['hq-b', r === b], ['hq-c', r === c]]);
      assert.ok(res.replicas.every((x) => x.http?.startsWith('http://127.0.0.1:')));
    }
  });

  test('a replica whose secret key differs from the others is refused at start, naming the file', async () => {
    const cfg = serverNodeConfig(tmp, 'hq-d', db.url, { cluster: { redis: REDIS_URL, replica: 'hq-d', prefix } });
    const r = await runProgram(['--config', cfg]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /hq-d\/secret-hmac\.key is not the key this database's secrets were stored with.*replicas sharing one database need the same file/);
  });

  test('a record made on B admits its lower node on A; C hears it online, and shows A holds the link', async () => {
    const secret = 'edge-one-secret-123456';
    const made = await gql({ url: b.httpUrl }, CreateClientDocument, { name: 'edge-1', secret });
    assert.ifError(made.errors);
    const id = made.data!.createClient.id;
    const edge = await lower('edge-1', a, secret, [b, c]);
    await waitFor(() => edge.app.services.cascade.upstream()?.state === 'online', 20_000, 'edge-1 online at A');
    const ev = await changes.next((e) => e.clientChanged.kind === 'ONLINE' && e.clientChanged.client.id === id, 10_000);
    assert.equal(ev.clientChanged.client.replica, 'hq-a');
    for (const r of [a, b, c]) {
      const q = await gql({ url: r.httpUrl }, ClusterClientsDocument);
      assert.deepEqual(q.data?.clients.find((x) => x.id === id), { id, name: 'edge-1', online: true, replica: 'hq-a' }, `as ${r.name} shows it`);
    }
    const listed = await fetch(`${c.httpUrl}/api/cascade/clients`).then((r) => r.json() as Promise<{ data: { name: string; online: boolean }[] }>);
    assert.equal(listed.data.find((x) => x.name === 'edge-1')?.online, true, 'REST on C');
    // Exactly once: no replica repeats another's event.
    await changes.next((e) => e.clientChanged.kind === 'CREATED' && e.clientChanged.client.id === id, 1_000);
    assert.equal(changes.events.filter((e) => e.clientChanged.client.id === id && e.clientChanged.kind === 'ONLINE').length, 1);
  });

  test('a stream pushed to A: C lists it with replica A, its tree shows it under the lower node, its subscription heard it', async () => {
    const edge = lowers[0]!;
    publishing = liveSynthetic(edge, 'live/cluster-cam');
    const ev = await streamChanges.next((e) => e.streamChanged.kind === 'PUBLISHED' && e.streamChanged.path === 'live/cluster-cam', 15_000);
    assert.equal(ev.streamChanged.replica, 'hq-a');
    for (const r of [b, c]) {
      const q = await gql({ url: r.httpUrl }, ClusterStreamsDocument);
      assert.deepEqual(q.data?.streams, [{ path: 'live/cluster-cam', replica: 'hq-a' }], `streams on ${r.name}`);
    }
    const topo = await waitFor(async () => {
      const t = (await gql({ url: c.httpUrl }, ClusterTopologyDocument)).data?.topology;
      return t?.children.find((x) => x.name === 'edge-1')?.streams.includes('live/cluster-cam') ? t : null;
    }, 5_000, "C's tree shows the stream under edge-1");
    assert.equal(topo.name, 'hq-c');
    assert.ok(topo.streams.includes('live/cluster-cam'), 'the logical HQ has it');
    assert.equal(topo.children.find((x) => x.name === 'edge-1')?.online, true);
    // C's subscription got the merged tree too (C itself has nothing of it).
    const pushed = await topologies.next((t) => t.topologyChanged.children.some((x) => x.name === 'edge-1' && x.online && x.streams.includes('live/cluster-cam')), 5_000);
    assert.equal(pushed.topologyChanged.name, 'hq-c');
  });

  test('relay through B to a lower node on A: status, headers and a streaming body come through', async () => {
    const id = (await gql({ url: b.httpUrl }, ClusterClientsDocument)).data!.clients.find((x) => x.name === 'edge-1')!.id;
    const list = await fetch(`${b.httpUrl}/api/relay/${id}/api/stream/list`);
    assert.equal(list.status, 200, list.status === 200 ? '' : await list.clone().text());
    assert.match(list.headers.get('content-type') ?? '', /json/);
    const body = (await list.json()) as { code: number; data: { path?: string; streamPath?: string }[] };
    assert.equal(body.code, 0);
    assert.ok(JSON.stringify(body.data).includes('live/cluster-cam'), JSON.stringify(body.data));
    const missing = await fetch(`${b.httpUrl}/api/relay/${id}/api/no-such-thing`);
    assert.equal(missing.status, 404, "the lower node's own status");
    await missing.body?.cancel();
    const t0 = Date.now();
    const flv = await playFlv(`${b.httpUrl}/api/relay/${id}/live/cluster-cam.flv`, 50_000, 15_000);
    flv.stop();
    assert.ok(flv.got >= 50_000, `FLV streamed through two replicas (${flv.got} bytes in ${Date.now() - t0} ms)`);
    await a.waitLog((l) => l.msg === 'relayed request' && l.fromReplica === true && l.status === 200, 5_000);
    // A caller cannot pose as a replica without the cluster secret.
    const forged = await fetch(`${a.httpUrl}/api/relay/${id}/api/stream/list`, {
      headers: { 'x-stream-cascade-replica-secret': 'wrong-secret-wrong-secret', 'x-stream-cascade-replica-caller': '203.0.113.9' },
    });
    assert.equal(forged.status, 200, 'treated as an ordinary caller (loopback is whitelisted)');
    await forged.body?.cancel();
    await a.waitLog((l) => l.msg === 'relayed request' && l.caller === '127.0.0.1' && l.fromReplica === undefined, 5_000);
  });

  test('a player on B of the stream pushed to A plays it from its keyframe; the pull from A closes after the last player left', async () => {
    const t0 = Date.now();
    const r = await readFlv(`${b.httpUrl}/live/cluster-cam.flv`, 60_000).catch((err: unknown) => {
      for (const l of [...b.lines, ...a.lines].filter((x) => JSON.stringify(x).match(/replica|pull|link/i)).slice(-40)) console.log(JSON.stringify(l).slice(0, 400));
      throw err;
    });
    const ms = Date.now() - t0;
    assert.ok(r.got >= 60_000, `${r.got} bytes`);
    assert.equal(r.firstVideoKey, true, 'starts on a keyframe (the GOP cache of A)');
    process.stdout.write(`# player on B of a stream on A: ${r.got} bytes in ${ms} ms\n`);
    await b.waitLog((l) => l.msg === 'cluster: stream link to replica opening' && l.peer === 'hq-a', 2_000);
    await a.waitLog((l) => l.msg === 'stream forwarding started (pulled out by peer)' && l.peer === 'replica hq-b', 5_000);
    await b.waitLog((l) => l.msg === 'on-demand pull idle: closing' && l.streamPath === 'live/cluster-cam', 10_000);
    // The copy on B is gone from the cluster's answer (B stores its streams as it unpublishes).
    await waitFor(async () => {
      const streams = (await gql({ url: c.httpUrl }, ClusterStreamsDocument)).data?.streams;
      return streams?.length === 1 && streams[0]?.replica === 'hq-a';
    }, 5_000, "C lists only A's stream");
  });

  test('a refused lower node at A is heard by a subscription on C', async () => {
    const n = await lower('intruder', a, 'not-a-known-secret-0000');
    const ev = await rejections.next((e) => e.authRejected.name === 'intruder', 15_000);
    assert.match(ev.authRejected.reason, /secret/i);
    await n.stop();
    lowers.splice(lowers.indexOf(n), 1);
  });

  test('deleting on C the record of a lower node linked to B closes that link within 1 s', async () => {
    const { id, node: edge } = await linkedLower('edge-2', c, b);
    const t0 = Date.now();
    const del = await gql({ url: c.httpUrl }, DeleteClientDocument, { id });
    assert.ifError(del.errors);
    await waitFor(() => edge.app.services.cascade.upstream()?.state !== 'online', 5_000, 'edge-2 link closed');
    const ms = Date.now() - t0;
    assert.ok(ms < 1_000, `link closed ${ms} ms after the delete on another replica`);
    await b.waitLog((l) => l.msg === 'closing client link on request' && l.clientId === id, 2_000);
  });

  test('kill -9 of A: B and C drop it; its lower node that can only reach A is offline, the one listing B and C is online there, both within 10 s', async () => {
    const { id: only } = await linkedLower('edge-3', c, a);
    // Its link is up on the lower node's side; the cluster must know A holds it before A dies.
    await waitFor(async () => {
      const rec = (await gql({ url: c.httpUrl }, ClusterClientsDocument)).data?.clients.find((x) => x.id === only);
      return rec?.online && rec.replica === 'hq-a' ? rec : null;
    }, 15_000, 'edge-3 shown online at hq-a on C');
    const moving = (await gql({ url: c.httpUrl }, ClusterClientsDocument)).data!.clients.find((x) => x.name === 'edge-1')!.id;
    const t0 = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    const off = await changes.next((e) => e.clientChanged.kind === 'OFFLINE' && e.clientChanged.client.id === only, 12_000);
    const offMs = Date.now() - t0;
    assert.equal(off.clientChanged.client.online, false);
    assert.ok(offMs < 10_000, `offline after ${offMs} ms`);
    const moved = await waitFor(async () => {
      const rec = (await gql({ url: c.httpUrl }, ClusterClientsDocument)).data?.clients.find((x) => x.id === moving);
      return rec?.online && (rec.replica === 'hq-b' || rec.replica === 'hq-c') ? rec : null;
    }, 12_000, 'edge-1 online again at B or C');
    const movedMs = Date.now() - t0;
    assert.ok(movedMs < 10_000, `edge-1 online again at ${moved.replica} after ${movedMs} ms`);
    process.stdout.write(`# replica killed: its lower node offline on the others after ${offMs} ms; the one listing the others online at ${moved.replica} after ${movedMs} ms\n`);
    for (const r of [b, c]) {
      const q = await gql({ url: r.httpUrl }, ClusterReplicasDocument);
      assert.deepEqual(q.data?.cluster?.replicas.map((x) => x.name), ['hq-b', 'hq-c']);
    }
    const q = await gql({ url: b.httpUrl }, ClusterClientsDocument);
    assert.deepEqual(q.data?.clients.find((x) => x.id === only), { id: only, name: 'edge-3', online: false, replica: null });
  });
});
