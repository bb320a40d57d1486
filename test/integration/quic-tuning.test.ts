/**
 * `quic.congestion` / `quic.maxudppayload` tune a node's cascade links: a server and
 * a client tuned differently from the defaults (and from each other) still link up.
 * `cascade-client.localaddr` picks the address the link is sent from.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultTransport, type LeanQuicTransport } from '../../dataplane/transport/index.js';
import { rest, startNode, waitFor, type TestNode } from '../helpers/node.js';

const nodes: TestNode[] = [];
after(async () => {
  for (const n of nodes.reverse()) await n.stop();
});

test('a CUBIC server and a Reno client with larger datagrams link up', async () => {
  const hq = await startNode({ name: 'hq-cubic', quic: { congestion: 'cubic' }, 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } });
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
  assert.deepEqual([hqQuic.congestionControl, hqQuic.maxUdpPayloadBytes], ['cubic', 1350]);
  assert.deepEqual([edgeQuic.congestionControl, edgeQuic.maxUdpPayloadBytes], ['reno', 1452]);
});

test('untuned nodes share the default transport', async () => {
  const plain = await startNode({ name: 'plain' });
  nodes.push(plain);
  const o = (plain.app.transport as LeanQuicTransport).options;
  assert.deepEqual([o.congestionControl, o.maxUdpPayloadBytes], ['bbr', 1350]);
});

test('cascade-client.localaddr: the upper node sees the link come from that address', async () => {
  const hq = await startNode({ name: 'hq-local', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, autoregister: true } });
  nodes.push(hq);
  const server = `127.0.0.1:${hq.app.addresses.quic!.port}`;
  const edge = await startNode({ name: 'edge-local', 'cascade-client': { server, localaddr: '127.0.0.3' } });
  nodes.push(edge);
  const rec = await waitFor(async () => {
    const list = (await rest(hq, 'GET', '/api/cascade/clients')).json.data as { name: string; online: boolean; ip: string }[];
    return list.find((c) => c.name === 'edge-local' && c.online);
  }, 15_000, 'edge online');
  assert.equal(rec.ip, '127.0.0.3');
  // The transport refuses a local address it cannot send to the server from, before any packet.
  await assert.rejects(
    defaultTransport.connect({ host: '127.0.0.1', port: hq.app.addresses.quic!.port, localAddress: '::1' }),
    /local address ::1 is IPv6 but the server 127\.0\.0\.1 is IPv4/,
  );
});
