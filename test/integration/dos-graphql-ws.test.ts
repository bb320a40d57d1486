/**
 * Anonymous denial of service over graphql-ws: connections from one
 * address are bounded (429 at the upgrade), a connection that never sends
 * connection_init is closed (4408), one that holds no subscription is closed
 * after `http.wsidle` (4400); a subscriber from elsewhere keeps its events and
 * the API answers throughout.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ClientChangedDocument } from '../generated/graphql.js';
import { rest, startNode, waitFor, type TestNode } from '../helpers/node.js';
import { subscribe } from '../helpers/ws-client.js';

interface Attempt {
  /** HTTP status of a refused upgrade, or 101. */
  status: number;
  ws: WebSocket | null;
  closed: Promise<{ code: number; reason: string }>;
  acked: Promise<boolean>;
}

/** Opens a graphql-ws connection from `localAddress`; sends connection_init when `init`. */
function open(httpUrl: string, localAddress: string, init: boolean): Promise<Attempt> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { localAddress });
    let ack!: (v: boolean) => void;
    const acked = new Promise<boolean>((r) => (ack = r));
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.on('close', (code, reason) => {
        ack(false);
        r({ code, reason: reason.toString() });
      }),
    );
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      resolve({ status: res.statusCode ?? 0, ws: null, closed, acked });
    });
    ws.on('message', (m) => {
      if ((JSON.parse(m.toString()) as { type: string }).type === 'connection_ack') ack(true);
    });
    ws.on('open', () => {
      if (init) ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      resolve({ status: 101, ws, closed, acked });
    });
  });
}

describe('graphql-ws: idle and piled-up connections are bounded', () => {
  const nodes: TestNode[] = [];
  after(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => undefined);
  });

  test('six connections from one address: two refused with 429, the silent closed by 4408, the idle by 4400; another subscriber keeps its events', async () => {
    const node = await startNode({ http: { listenaddr: '127.0.0.1:0', wsperaddress: 4, wsinit: 1_000, wsidle: 1_500 } });
    nodes.push(node);
    const sub = await subscribe(node.url, ClientChangedDocument);
    try {
      const attempts: Attempt[] = [];
      for (let i = 0; i < 6; i++) attempts.push(await open(node.url, '127.0.0.2', i % 2 === 1));
      assert.deepEqual(attempts.map((a) => a.status), [101, 101, 101, 101, 429, 429]);
      assert.deepEqual(await Promise.all(attempts.slice(0, 4).map((a) => a.acked)), [false, true, false, true]);
      const closes = await Promise.all(attempts.slice(0, 4).map((a) => a.closed));
      assert.deepEqual(closes.map((c) => c.code), [4408, 4400, 4408, 4400]);
      assert.match(closes[1]!.reason, /no subscription for 1500 ms/);
      // Their slots are free again.
      const again = await open(node.url, '127.0.0.2', true);
      assert.equal(again.status, 101);
      assert.equal(await again.acked, true);
      again.ws!.close();
      await again.closed;

      // The subscriber from 127.0.0.1 outlived the idle time: it holds a subscription, and its events come.
      const created = await rest(node, 'POST', '/api/cascade/clients', { name: 'after-attack', secret: 'after-attack-secret' });
      assert.equal(created.status, 200, JSON.stringify(created.json));
      const ev = await sub.next((e) => e.clientChanged.kind === 'CREATED' && e.clientChanged.client.name === 'after-attack', 10_000);
      assert.ok(ev);
      await waitFor(async () => (await rest(node, 'GET', '/api/cascade/clients')).status === 200, 5_000, 'the API');
    } finally {
      await sub.close();
    }
  });
});
