/**
 * Safe defaults for an exposed node, attacked over the network:
 * without http.token changes come from this host only (reads and media stay open)
 * and a node listening beyond loopback says so once; cross-site requests cannot
 * change anything (GraphQL CSRF prevention, no credentialed CORS, REST needs JSON).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { startCapturedNode, type CapturedNode } from '../helpers/captured-node.js';
import { NodeSecurityDocument } from '../generated/graphql.js';
import { gql, startNode, type TestNode } from '../helpers/node.js';

/** A non-loopback IPv4 address of this host, to call the node from "another host". */
function externalAddress(): string | null {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

type Answer = { status: number; json: { code?: number; message?: string; data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } };

async function call(base: string, method: string, p: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const r = await fetch(base + p, { method, headers: opts.headers ?? {}, ...(opts.body === undefined ? {} : { body: opts.body }) });
  const text = await r.text();
  return { status: r.status, json: text ? (JSON.parse(text) as Answer['json']) : {} };
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const createClient = (name: string): string => JSON.stringify({ name, secret: `${name}-secret-0123` });
const gqlBody = (query: string): string => JSON.stringify({ query });
const CREATE_MUTATION = (name: string): string => `mutation { createClient(name: "${name}", secret: "${name}-secret-0123") { id } }`;

async function clientNames(base: string): Promise<string[]> {
  const r = await call(base, 'GET', '/api/cascade/clients');
  return (r.json.data as { name: string }[]).map((c) => c.name);
}

describe('no http.token: changes from this host only', () => {
  let node: CapturedNode;
  let external: string | null;
  before(async () => {
    external = externalAddress();
    node = await startCapturedNode({ http: { listenaddr: ':0' } }, 'pglite://memory', 'info');
  });
  after(async () => {
    await node?.stop();
  });

  test('a node listening on all interfaces without a token warns once at start, with the fix', () => {
    const warnings = node.logs.filter((l) => /without http\.token/.test(String(l.msg)));
    assert.equal(warnings.length, 1, node.logText());
    assert.equal(warnings[0]?.level, 40);
    assert.match(String(warnings[0]?.fix), /set http\.token/);
  });

  test('from another host (the node\'s own non-loopback address): REST and GraphQL mutations are refused; reads stay open', async (t) => {
    if (external === null) {
      t.skip('this host has no non-loopback IPv4 address');
      return;
    }
    const base = `http://${external}:${node.app.addresses.http.port}`;
    const rest = await call(base, 'POST', '/api/cascade/clients', { body: createClient('remote-rest'), headers: JSON_HEADERS });
    assert.equal(rest.status, 403);
    assert.equal(rest.json.code, 403);
    assert.match(rest.json.message ?? '', /http\.token/);
    const del = await call(base, 'DELETE', '/api/cascade/clients/1');
    assert.equal(del.status, 403);
    const gql = await call(base, 'POST', '/graphql', { body: gqlBody(CREATE_MUTATION('remote-gql')), headers: JSON_HEADERS });
    assert.equal(gql.json.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    // Reads stay open.
    const list = await call(base, 'GET', '/api/cascade/clients');
    assert.equal(list.status, 200);
    const q = await call(base, 'POST', '/graphql', { body: gqlBody('{ node { name } }'), headers: JSON_HEADERS });
    assert.deepEqual(q.json.data, { node: { name: 'test-node' } });
    const names = await clientNames(node.url);
    assert.ok(!names.includes('remote-rest') && !names.includes('remote-gql'), 'nothing was created');
  });

  test('through a reverse proxy on this host (X-Forwarded-For / Forwarded): refused too', async () => {
    const proxies: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }, { 'x-real-ip': '203.0.113.9' }];
    for (const h of proxies) {
      const rest = await call(node.url, 'POST', '/api/cascade/clients', { body: createClient('proxied'), headers: { ...JSON_HEADERS, ...h } });
      assert.equal(rest.status, 403, JSON.stringify(h));
      const gql = await call(node.url, 'POST', '/graphql', { body: gqlBody(CREATE_MUTATION('proxied-gql')), headers: { ...JSON_HEADERS, ...h } });
      assert.equal(gql.json.errors?.[0]?.extensions?.code, 'FORBIDDEN', JSON.stringify(h));
    }
    const names = await clientNames(node.url);
    assert.ok(!names.includes('proxied') && !names.includes('proxied-gql'));
  });

  test('from loopback: mutations are accepted as before', async () => {
    const rest = await call(node.url, 'POST', '/api/cascade/clients', { body: createClient('local-rest'), headers: JSON_HEADERS });
    assert.equal(rest.status, 200, JSON.stringify(rest.json));
    const gql = await call(node.url, 'POST', '/graphql', { body: gqlBody(CREATE_MUTATION('local-gql')), headers: JSON_HEADERS });
    assert.equal(gql.json.errors, undefined, JSON.stringify(gql.json));
    const names = await clientNames(node.url);
    assert.ok(names.includes('local-rest') && names.includes('local-gql'));
  });
});

describe('a node on loopback only, or with a token', () => {
  test('says nothing about the token at start', async () => {
    const local = await startCapturedNode({}, 'pglite://memory', 'info');
    const tokened = await startCapturedNode({ http: { listenaddr: ':0', token: 'token-0123456789' } }, 'pglite://memory', 'info');
    try {
      for (const n of [local, tokened]) assert.equal(n.logs.filter((l) => /without http\.token/.test(String(l.msg))).length, 0);
    } finally {
      await local.stop();
      await tokened.stop();
    }
  });
});

describe('cross-site requests cannot change anything', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode();
  });
  after(async () => {
    await node?.stop();
  });

  test('GraphQL: a form-encoded or text/plain POST (what a cross-site page can send unasked) is refused before it runs', async () => {
    const form = new URLSearchParams({ query: CREATE_MUTATION('csrf-form') }).toString();
    const attempts = [
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'text/plain;charset=UTF-8' },
      { 'content-type': 'multipart/form-data; boundary=x' },
    ];
    for (const headers of attempts) {
      const body = headers['content-type'].startsWith('application/x-www') ? form : gqlBody(CREATE_MUTATION('csrf-plain'));
      const r = await call(node.url, 'POST', '/graphql', { body, headers: { ...headers, origin: 'https://evil.example' } });
      assert.equal(r.status, 403, headers['content-type']);
      assert.equal(r.json.errors?.[0]?.extensions?.code, 'CSRF_REFUSED');
    }
    const names = await clientNames(node.url);
    assert.ok(!names.includes('csrf-form') && !names.includes('csrf-plain'), 'nothing was created');
    // A client that says it is not a form (the header) gets past the check with a form body.
    const ok = await call(node.url, 'POST', '/graphql', {
      body: new URLSearchParams({ query: '{ node { name } }' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-graphql-yoga-csrf': '1' },
    });
    assert.deepEqual(ok.json.data, { node: { name: 'test-node' } });
  });

  test('GraphQL: no CORS for other origins (no credentialed reflection)', async () => {
    const pre = await fetch(`${node.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    await pre.arrayBuffer();
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    assert.equal(pre.headers.get('access-control-allow-credentials'), null);
    const r = await fetch(`${node.url}/graphql`, { method: 'POST', headers: { ...JSON_HEADERS, origin: 'https://evil.example' }, body: gqlBody('{ node { name } }') });
    await r.arrayBuffer();
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    assert.equal(r.headers.get('access-control-allow-credentials'), null);
  });

  test('REST: a mutation without Content-Type: application/json is refused with 415 and the envelope', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const r = await call(node.url, 'POST', '/api/cascade/clients', { body: createClient('csrf-rest'), headers: type ? { 'content-type': type } : {} });
      assert.equal(r.status, 415, String(type));
      assert.equal(r.json.code, 415);
      assert.match(r.json.message ?? '', /application\/json/);
    }
    const put = await call(node.url, 'PUT', '/api/cascade/clients/1', { body: '{"name":"x"}', headers: { 'content-type': 'text/plain' } });
    assert.equal(put.status, 415);
    assert.ok(!(await clientNames(node.url)).includes('csrf-rest'));
    const ok = await call(node.url, 'POST', '/api/cascade/clients', { body: createClient('json-rest'), headers: { 'content-type': 'application/json; charset=utf-8' } });
    assert.equal(ok.status, 200);
  });
});

describe('GraphQL node { security } shows the settings in force', () => {
  test('defaults, and a node with a token, publish keys and a hook', async () => {
    const plain = await startNode();
    const strict = await startNode({
      http: { listenaddr: '127.0.0.1:0', token: 'token-0123456789', protectreads: true },
      rtmp: { listenaddr: '127.0.0.1:0', publish: { keys: ['publish-key-0123'], hook: 'http://127.0.0.1:9/hook' } },
      'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, relayapi: { enable: true, allowsetcookie: true } },
    });
    try {
      const a = await gql(plain, NodeSecurityDocument);
      assert.deepEqual(a.data?.node.security, {
        adminToken: false,
        protectReads: false,
        localMutationsOnly: true,
        publishAuth: false,
        publishHook: false,
        relayApi: false,
        relayAllowsSetCookie: false,
      });
      const r = await fetch(`${strict.url}/graphql`, {
        method: 'POST',
        headers: { ...JSON_HEADERS, authorization: 'Bearer token-0123456789' },
        body: gqlBody('{ node { security { adminToken protectReads localMutationsOnly publishAuth publishHook relayApi relayAllowsSetCookie } } }'),
      });
      const b = (await r.json()) as { data?: { node: { security: Record<string, boolean> } } };
      assert.deepEqual(b.data?.node.security, {
        adminToken: true,
        protectReads: true,
        localMutationsOnly: false,
        publishAuth: true,
        publishHook: true,
        relayApi: true,
        relayAllowsSetCookie: true,
      });
      assert.doesNotMatch(JSON.stringify(b), /token-0123456789|publish-key-0123/);
    } finally {
      await plain.stop();
      await strict.stop();
    }
  });
});
