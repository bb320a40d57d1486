/**
 * Forwarding in the APIs: topology (query and subscription) from ANNOUNCE in a
 * 3-level tree, stream directions in GraphQL and /api/stream/list, streamChanged
 * for cascade streams.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamChangedDocument, StreamDirectionsDocument, TopologyChangedDocument, TopologyDocument } from '../generated/graphql.js';
import { gql, rest, waitFor, type TestNode } from '../helpers/node.js';
import { subscribe } from '../helpers/ws-client.js';
import { liveSynthetic, startHq, startLower } from './forwarding-helpers.js';

const nodes: TestNode[] = [];
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const n of nodes.reverse()) await n.stop().catch(() => {});
});

type StreamRow = { path: string; direction: string; origin: string | null; forwards: { direction: string; peer: string }[] };

describe('forwarding in the APIs', () => {
  test('topology, directions, streamChanged and /api/stream/list across edge → region → HQ', async () => {
    const hq = await startHq('api-hq');
    nodes.push(hq);
    const region = await startLower(hq, 'api-region', { autopush: true }, { server: true });
    nodes.push(region);
    const edge = await startLower(region, 'api-edge', { autopush: true });
    nodes.push(edge);
    const topo = await subscribe(hq.url, TopologyChangedDocument);
    const changes = await subscribe(hq.url, StreamChangedDocument);
    cleanups.push(() => topo.close(), () => changes.close());
    const src = liveSynthetic(edge, 'live/api');
    cleanups.push(() => src.stop());

    // subscription: the tree with the stream at the edge
    await topo.next(
      (e) => e.topologyChanged.children.some((c) => c.name === 'api-region' && c.children.some((g) => g.name === 'api-edge' && g.streams.includes('live/api'))),
      10_000,
    );
    await changes.next((e) => e.streamChanged.kind === 'PUBLISHED' && e.streamChanged.path === 'live/api', 10_000);

    // query: the whole tree
    const t = await waitFor(async () => {
      const r = await gql(hq, TopologyDocument);
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      const root = r.data!.topology;
      const reg = root.children.find((c) => c.name === 'api-region');
      return reg?.rttMs != null && reg.children[0]?.streams.includes('live/api') ? root : null;
    }, 10_000, 'topology with rtt and streams');
    assert.equal(t.name, 'api-hq');
    assert.equal(t.self, true);
    assert.ok(t.streams.includes('live/api'), 'pushed up to HQ');
    const reg = t.children.find((c) => c.name === 'api-region')!;
    assert.equal(reg.online, true);
    assert.deepEqual(reg.children.map((c) => c.name), ['api-edge']);
    const regTopo = (await gql(region, TopologyDocument)).data!.topology;
    assert.deepEqual(regTopo.children.map((c) => [c.name, c.online, c.streams]), [['api-edge', true, ['live/api']]]);

    // directions
    const at = async (n: TestNode): Promise<StreamRow> => {
      const r = await gql(n, StreamDirectionsDocument);
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      return r.data!.streams.find((s) => s.path === 'live/api')! as StreamRow;
    };
    const hqRow = await at(hq);
    assert.equal(hqRow.direction, 'PUSHED_IN');
    assert.equal(hqRow.origin, 'api-region');
    const hqFull = (await gql(hq, StreamDirectionsDocument)).data!.streams.find((s) => s.path === 'live/api')!;
    assert.deepEqual(hqFull.chain, ['api-edge', 'api-region']);
    await waitFor(async () => (await at(region)).forwards.some((f) => f.direction === 'PUSHED_OUT'), 5_000, 'region pushes out');
    const regRow = (await gql(region, StreamDirectionsDocument)).data!.streams.find((s) => s.path === 'live/api')!;
    assert.deepEqual(regRow.directions, ['PUSHED_IN', 'PUSHED_OUT']);
    assert.ok(regRow.forwards[0]!.bytes > 0);
    const edgeRow = (await gql(edge, StreamDirectionsDocument)).data!.streams.find((s) => s.path === 'live/api')!;
    assert.deepEqual(edgeRow.directions, ['LOCAL', 'PUSHED_OUT']);
    assert.equal(edgeRow.forwards[0]!.peer, 'api-region');
    await waitFor(async () => ((await gql(hq, StreamDirectionsDocument)).data?.streams[0]?.bitrateKbps ?? 0) > 0, 5_000, 'bitrate at HQ');

    // REST
    const list = (await rest(hq, 'GET', '/api/stream/list')).json.data as { path: string; direction: string; origin: string }[];
    const row = list.find((s) => s.path === 'live/api')!;
    assert.equal(row.direction, 'PUSHED_IN');
    assert.equal(row.origin, 'api-region');
    const elist = (await rest(edge, 'GET', '/api/stream/list')).json.data as { path: string; direction: string; forwards: { direction: string }[] }[];
    assert.equal(elist[0]!.direction, 'LOCAL');
    assert.equal(elist[0]!.forwards[0]!.direction, 'PUSHED_OUT');

    // the edge's stream ends: gone from the tree
    src.stop();
    await topo.next((e) => !e.topologyChanged.children.some((c) => c.children.some((g) => g.streams.includes('live/api'))), 10_000);
    await changes.next((e) => e.streamChanged.kind === 'UNPUBLISHED' && e.streamChanged.path === 'live/api', 10_000);
  });
});
