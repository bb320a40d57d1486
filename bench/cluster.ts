/**
 * Cluster benchmark (not a test): three replica processes sharing a fresh PostgreSQL
 * database and a Redis key prefix, beside one single node (no `cluster:`, its own fresh
 * database) in the same run.
 *
 *   npm run bench:cluster                 # 40 record changes, 200 relayed calls per path
 *   npm run bench:cluster -- --changes 100 --calls 500
 *
 * Subscription fan-out: a record is renamed on replica A (GraphQL mutation); a
 * `clientChanged` subscription on A and one on C each time the event's arrival from
 * the mutation's start. The single node does the same with its own subscription.
 * Across replicas = C's time; its cost over the replica's own subscription = C − A.
 *
 * Relay: `GET /api/relay/{id}/api/stream/list` to a lower node linked to replica A,
 * asked of A (direct) and of B (forwarded to A over HTTP), and of the single node for
 * its own lower node; sequential calls, p50/p95/p99 of the round trip.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { subscribe } from '../test/helpers/ws-client.js';
import { gql, startNode, waitFor, type TestNode } from '../test/helpers/node.js';
import { createPostgresDatabase, type TestDatabase } from '../test/helpers/db.js';
import { startProcessNode, type ProcessNode } from '../test/helpers/process-node.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { ClusterClientChangedDocument, CreateClientDocument, UpdateClientDocument } from '../test/generated/graphql.js';
import { dropPrefix, serverNodeConfig, startReplicas, testPrefix, type Replica } from '../test/integration/cluster-helpers.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const CHANGES = Number(arg('changes', '40'));
const CALLS = Number(arg('calls', '200'));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (n=${xs.length})`;

/** A clientChanged subscription: when each UPDATED event for a name first arrived. */
async function arrivals(httpUrl: string): Promise<{ at: Map<string, number>; close(): Promise<void> }> {
  const sub = await subscribe(httpUrl, ClusterClientChangedDocument);
  const at = new Map<string, number>();
  let seen = 0;
  return {
    get at() {
      for (; seen < sub.events.length; seen++) {
        const e = sub.events[seen]!.clientChanged;
        if (e.kind === 'UPDATED' && !at.has(e.client.name)) at.set(e.client.name, sub.arrivals[seen]!);
      }
      return at;
    },
    close: () => sub.close(),
  };
}

async function lowerOn(quicPort: number, url: string, name: string): Promise<{ node: TestNode; id: number }> {
  const secret = `${name}-bench-secret-123`;
  const made = await gql({ url }, CreateClientDocument, { name, secret });
  const id = made.data!.createClient.id;
  const node = await startNode({ name, 'cascade-client': { server: `127.0.0.1:${quicPort}`, secret, relayapi: { enable: true, whitelist: ['127.0.0.0/8'] } } });
  await waitFor(() => node.app.services.cascade.upstream()?.state === 'online', 30_000, `${name} online`);
  return { node, id };
}

/** Renames record `id` on `url` CHANGES times; per subscription, the delay of each event from its mutation's start. */
async function fanOut(url: string, id: number, subs: { at: Map<string, number> }[], tag: string): Promise<number[][]> {
  const delays: number[][] = subs.map(() => []);
  for (let i = 0; i < CHANGES; i++) {
    const name = `${tag}-${i}`;
    const t0 = performance.now();
    const r = await gql({ url }, UpdateClientDocument, { id, name });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    await waitFor(() => subs.every((s) => s.at.has(name)), 10_000, `event ${name} on every subscription`);
    subs.forEach((s, k) => delays[k]!.push(s.at.get(name)! - t0));
  }
  return delays;
}

async function relayTimes(base: string, id: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < CALLS + 10; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/api/relay/${id}/api/stream/list`);
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`relay answered ${r.status}`);
    if (i >= 10) out.push(performance.now() - t0); // the first calls warm up links and pools
  }
  return out;
}

async function main(): Promise<void> {
  const tmp = tempDir('sc-bench-cluster-');
  const prefix = testPrefix('bench');
  const dbs: TestDatabase[] = [];
  const lowers: TestNode[] = [];
  let replicas: Replica[] = [];
  let single: ProcessNode | null = null;
  try {
    dbs.push(await createPostgresDatabase(), await createPostgresDatabase());
    const singleCfg = serverNodeConfig(tmp, 'single', dbs[1]!.url);
    [replicas, single] = await Promise.all([
      startReplicas(['hq-a', 'hq-b', 'hq-c'], { tmp, dbUrl: dbs[0]!.url, prefix }),
      startProcessNode(singleCfg),
    ]);
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const singleQuic = await single.waitLog((l) => l.msg === 'cascade server listening (QUIC)');
    const singlePort = Number(String(singleQuic.address).split(':').pop());
    const onA = await lowerOn(a.quicPort, a.httpUrl, 'bench-edge-a');
    const onSingle = await lowerOn(singlePort, single.httpUrl, 'bench-edge-single');
    lowers.push(onA.node, onSingle.node);

    console.log(`# cluster bench: ${CHANGES} record changes, ${CALLS} relayed calls per path; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    const subA = await arrivals(a.httpUrl);
    const subC = await arrivals(c.httpUrl);
    const subS = await arrivals(single.httpUrl);
    const [dA, dC] = await fanOut(a.httpUrl, onA.id, [subA, subC], 'a');
    const [dS] = await fanOut(single.httpUrl, onSingle.id, [subS], 's');
    const over = dC!.map((x, i) => x - dA![i]!);
    console.log(`subscription, single node (no cluster:):   ${fmt(dS!)}`);
    console.log(`subscription, replica A (change made on A): ${fmt(dA!)}`);
    console.log(`subscription, replica C (change made on A): ${fmt(dC!)}`);
    console.log(`  C − A (the hop through Redis):            ${fmt(over)}`);
    for (const s of [subA, subC, subS]) await s.close();

    const rS = await relayTimes(single.httpUrl, onSingle.id);
    const rA = await relayTimes(a.httpUrl, onA.id);
    const rB = await relayTimes(b.httpUrl, onA.id);
    console.log(`relay, single node:                          ${fmt(rS)}`);
    console.log(`relay, replica A (holds the link):           ${fmt(rA)}`);
    console.log(`relay, replica B (forwarded to A over HTTP): ${fmt(rB)}`);
    console.log(`# load at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    for (const n of lowers) await n.stop().catch(() => {});
    for (const r of replicas) await r.stop().catch(() => {});
    await single?.stop().catch(() => {});
    for (const d of dbs) await d.drop().catch(() => {});
    await dropPrefix(prefix).catch(() => {});
    removeDir(tmp);
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
