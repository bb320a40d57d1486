/**
 * http.token: mutating REST and GraphQL operations and subscriptions need the
 * bearer token; reads don't unless http.protectreads; a refused call changes nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startNode, type TestNode } from '../helpers/node.js';

const TOKEN = 'admin-token-0123456789';

async function call(node: TestNode, method: string, p: string, body?: unknown, token?: string) {
  const r = await fetch(node.url + p, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, json: (await r.json()) as { code: number; message: string; data: unknown; errors?: { extensions?: { code?: string } }[] } };
}

function wsSubscribe(node: TestNode, connectionParams?: Record<string, unknown>): Promise<string> {
  const client = createClient({ url: `${node.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams });
  return new Promise((resolve) => {
    const t = setTimeout(() => finish('no answer'), 5_000);
    let poke: NodeJS.Timeout | undefined;
    const finish = (what: string): void => {
      clearTimeout(t);
      // A poke still pending would call the node after the test (and the node) ended.
      clearTimeout(poke);
      void client.dispose();
      resolve(what);
    };
    client.subscribe(
      { query: 'subscription { clientChanged { kind } }' },
      {
        next: (v) => finish(v.errors ? `errors:${String(v.errors[0]?.extensions?.code)}` : 'data'),
        error: (e) => finish(`error:${JSON.stringify(e).slice(0, 200)}`),
        complete: () => finish('complete'),
      },
    );
    // An accepted subscription stays silent until an event: make one.
    poke = setTimeout(() => {
      void call(node, 'POST', '/api/cascade/clients', { name: `ws-${Math.random()}`, secret: `s-${Math.random()}` }, TOKEN);
    }, 500);
  });
}

describe('admin token', () => {
  let node: TestNode;
  let strict: TestNode;
  before(async () => {
    node = await startNode({ http: { listenaddr: '127.0.0.1:0', token: TOKEN } });
    strict = await startNode({ http: { listenaddr: '127.0.0.1:0', token: TOKEN, protectreads: true } });
  });
  after(async () => {
    await node?.stop();
    await strict?.stop();
  });

  test('REST: writes need the token, reads do not; a refused write changes nothing', async () => {
    const denied = await call(node, 'POST', '/api/cascade/clients', { name: 'x', secret: 'y-padded-key' });
    assert.equal(denied.status, 401);
    assert.equal(denied.json.code, 401);
    const wrong = await call(node, 'POST', '/api/cascade/clients', { name: 'x', secret: 'y-padded-key' }, 'not-the-token');
    assert.equal(wrong.status, 401);
    assert.deepEqual((await call(node, 'GET', '/api/cascade/clients')).json.data, []);
    const ok = await call(node, 'POST', '/api/cascade/clients', { name: 'x', secret: 'y-padded-key' }, TOKEN);
    assert.equal(ok.status, 200);
    assert.equal((await call(node, 'DELETE', '/api/cascade/clients/1')).status, 401);
    assert.equal((await call(node, 'GET', '/api/cascade/clients')).status, 200);
    assert.equal((await call(node, 'GET', '/api/stream/list')).status, 200);
  });

  test('GraphQL: mutations need the token, queries do not', async () => {
    const m = 'mutation { createClient(name: "g", secret: "gs-padded-key") { id } }';
    const denied = await call(node, 'POST', '/graphql', { query: m });
    assert.equal(denied.json.errors?.[0]?.extensions?.code, 'UNAUTHORIZED');
    const q = await call(node, 'POST', '/graphql', { query: '{ clients { name } }' });
    assert.equal(q.json.errors, undefined);
    assert.ok(!(q.json.data as { clients: { name: string }[] }).clients.some((c) => c.name === 'g'), 'nothing created');
    const ok = await call(node, 'POST', '/graphql', { query: m }, TOKEN);
    assert.equal(ok.json.errors, undefined);
  });

  test('GraphQL subscriptions need the token (connection params)', async () => {
    assert.equal(await wsSubscribe(node), 'errors:UNAUTHORIZED');
    assert.equal(await wsSubscribe(node, { authorization: `Bearer ${TOKEN}` }), 'data');
  });

  test('protectreads: reads need it too', async () => {
    assert.equal((await call(strict, 'GET', '/api/cascade/clients')).status, 401);
    assert.equal((await call(strict, 'GET', '/api/cascade/clients', undefined, TOKEN)).status, 200);
    const q = await call(strict, 'POST', '/graphql', { query: '{ node { name } }' });
    assert.equal(q.json.errors?.[0]?.extensions?.code, 'UNAUTHORIZED');
  });

  test('query limits: too many aliases is refused before execution', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `a${i}: node { name }`).join(' ');
    const r = await call(node, 'POST', '/graphql', { query: `{ ${many} }` });
    assert.equal(r.json.errors?.[0]?.extensions?.code, 'QUERY_TOO_COMPLEX');
  });
});
