/**
 * `quic.congestion` / `quic.maxudppayload` tune a node's cascade links: a server and
 * a client tuned differently from the defaults (and from each other) still link up.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LeanQuicTransport } from '../../dataplane/transport/index.js';
import { rest, startNode, waitFor, type TestNode } from '../helpers/node.js';

const nodes: TestNode[] = [];
after(async () => {
  for (const n of nodes.reverse()) await n.stop();
});

test('a BBR server and a Reno client with larger datagrams link up', async () => {
  const hq = await startNode({ name: 'hq-bbr', quic: { congestion: 'bbr' }, 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } });
  nodes.push(hq);
  const edge = await startNode({
    name: 'edge-reno',
    quic: { congestion: 'reno', maxudppayload: 1452 },
    'cascade-client': { server: `127.0.0.1:${hq.app.addresses.quic!.port}`, secret: 'tuned-secret' },
  });
  nodes.push(edge);
  const online = await waitFor(async () => {
    const list = (await rest(hq, 'GET', '/api/cascade/clients')).json.data as { name: string; online: boolean }[];
    return list.find((c) => c.name === 'edge-reno' && c.online);
  }, 15_000, 'tuned edge online');
  assert.ok(online);
  const hqQuic = (hq.app.transport as LeanQuicTransport).options;
  const edgeQuic = (edge.app.transport as LeanQuicTransport).options;
  assert.deepEqual([hqQuic.congestionControl, hqQuic.maxUdpPayloadBytes], ['bbr', 1350]);
  assert.deepEqual([edgeQuic.congestionControl, edgeQuic.maxUdpPayloadBytes], ['reno', 1452]);
});

test('untuned nodes share the default transport', async () => {
  const plain = await startNode({ name: 'plain' });
  nodes.push(plain);
  const o = (plain.app.transport as LeanQuicTransport).options;
  assert.deepEqual([o.congestionControl, o.maxUdpPayloadBytes], ['cubic', 1350]);
});
