/**
 * The API relay over real QUIC between in-process nodes: hq (127.0.0.1, admin token)
 * → region (HTTP on [::1], its own token, also a cascade server) → edge; and
 * edge-off (relay disabled) under hq.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';

const HQ_TOKEN = 'hq-admin-token';
const REGION_TOKEN = 'region-admin-token';

type ClientJson = { id: number; name: string; online: boolean };

/** Sends raw bytes over TCP; resolves with the status code of the answer (bounded). */
function rawStatus(host: string, port: number, request: string, keepOpenMs = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer to ${JSON.stringify(request.slice(0, 80))}`));
    }, 5_000 + keepOpenMs);
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m) {
        clearTimeout(timer);
        sock.destroy();
        resolve(Number(m[1]));
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('API relay through the cascade', () => {
  const nodes: TestNode[] = [];
  let hq!: TestNode;
  let region!: TestNode;
  let regionUrl = '';
  let regionId = 0;
  let edgeId = 0;
  let offId = 0;
  let edgeV4Id = 0;

  before(async () => {
    hq = await startNode({
      name: 'hq',
      // Dual stack: IPv4 callers arrive as ::ffff:127.0.0.1, IPv6 ones as ::1 (not whitelisted here).
      http: { listenaddr: '[::]:0', token: HQ_TOKEN },
      'cascade-server': {
        quic: { listenaddr: '127.0.0.1:0' },
        autoregister: true,
        relayapi: {
          enable: true,
          whitelist: ['127.0.0.0/8', '2001:db8::/64', '198.51.100.0/24'],
          trustedproxies: ['127.0.0.1/32'],
          timeout: 1_500,
          maxbody: 4_096,
        },
      },
    });
    nodes.push(hq);
    region = await startNode({
      name: 'region',
      http: { listenaddr: '[::1]:0', token: REGION_TOKEN, protectreads: true },
      'cascade-server': {
        quic: { listenaddr: '127.0.0.1:0' },
        autoregister: true,
        relayapi: { enable: true, whitelist: ['::1/128', '127.0.0.0/8', '2001:db8::/64', '198.51.100.0/24'] },
      },
      'cascade-client': {
        server: `127.0.0.1:${hq.app.addresses.quic!.port}`,
        secret: 'region-secret',
        relayapi: { enable: true, whitelist: ['127.0.0.0/8', '2001:db8::5/128'] },
      },
    });
    nodes.push(region);
    regionUrl = `http://[::1]:${region.app.addresses.http.port}`;
    const edge = await startNode({
      name: 'edge',
      'cascade-client': {
        server: `127.0.0.1:${region.app.addresses.quic!.port}`,
        secret: 'edge-secret-padded-key',
        relayapi: { enable: true, whitelist: ['127.0.0.1/32', '::1/128', '2001:db8::/64'] },
      },
    });
    nodes.push(edge);
    const edgeV4 = await startNode({
      name: 'edge-v4',
      'cascade-client': {
        server: `127.0.0.1:${region.app.addresses.quic!.port}`,
        secret: 'edge-v4-secret',
        relayapi: { enable: true, whitelist: ['127.0.0.0/8'] },
      },
    });
    nodes.push(edgeV4);
    const off = await startNode({
      name: 'edge-off',
      'cascade-client': { server: `127.0.0.1:${hq.app.addresses.quic!.port}`, secret: 'off-secret-padded-key' },
    });
    nodes.push(off);
    // Starting nodes in this (shared) process can block its event loop (key generation, module
    // loading; PGlite itself runs in a worker thread since 2026-11-25): give any link that drops
    // meanwhile time to come back, then wait for every link.
    await new Promise((r) => setTimeout(r, 2_600));
    const online = (n: TestNode, name: string) =>
      waitFor(
        async () => {
          const c = (await n.app.services.clients.list({ online: true })).find((x) => x.name === name);
          return c && n.app.services.cascade.link(c.id) ? c : null;
        },
        10_000,
        `${name} online`,
      );
    regionId = (await online(hq, 'region')).id;
    offId = (await online(hq, 'edge-off')).id;
    edgeId = (await online(region, 'edge')).id;
    edgeV4Id = (await online(region, 'edge-v4')).id;
    // A node loads GraphQL at its first GraphQL request, which on a loaded machine can take
    // longer than this HQ's 1.5 s relay timeout: load it on the lower nodes first (the
    // relayed GraphQL calls below are about the relay, not about a node's first query).
    for (const [url, auth] of [[regionUrl, { authorization: `Bearer ${REGION_TOKEN}` }], [edge.url, {}]] as const) {
      const r = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ query: '{ node { name } }' }),
        signal: AbortSignal.timeout(60_000),
      });
      assert.equal(r.status, 200, `GraphQL answers at ${url}`);
    }
  });
  after(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
  });

  /** A relayed call through hq with both tokens (hq's, and region's carried down as X-Relay-Authorization). */
  function relay(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    return fetch(`${hq.url}/api/relay${path}`, {
      ...init,
      headers: { authorization: `Bearer ${HQ_TOKEN}`, 'x-relay-authorization': `Bearer ${REGION_TOKEN}`, ...init.headers },
      signal: init.signal ?? AbortSignal.timeout(8_000),
    });
  }
  async function envelope(r: Response): Promise<{ code: number; message: string; data: unknown }> {
    return (await r.json()) as { code: number; message: string; data: unknown };
  }

  test('relayed GET: /api/relay/{id}/api/stream/list answers with the lower node\'s envelope', async () => {
    const r = await relay(`/${regionId}/api/stream/list?x=1`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    const body = await envelope(r);
    assert.equal(body.code, 0);
    assert.ok(Array.isArray(body.data));
  });

  test('POST with a body: GraphQL of the lower node, and of an edge through its region (2 hops)', async () => {
    const post = (path: string) =>
      relay(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query: '{ node { name } }' }),
      });
    const one = await post(`/${regionId}/graphql`);
    assert.equal(one.status, 200);
    assert.deepEqual(((await one.json()) as { data: unknown }).data, { node: { name: 'region' } });
    const two = await post(`/${regionId}/api/relay/${edgeId}/graphql`);
    assert.equal(two.status, 200);
    assert.deepEqual(((await two.json()) as { data: unknown }).data, { node: { name: 'edge' } });
    const list = await relay(`/${regionId}/api/relay/${edgeId}/api/stream/list`);
    assert.equal(list.status, 200);
    assert.equal((await envelope(list)).code, 0);
  });

  test('a 404 of the lower node keeps its status and envelope', async () => {
    const r = await relay(`/${regionId}/api/no-such-thing`);
    assert.equal(r.status, 404);
    assert.match((await envelope(r)).message, /no such endpoint/);
  });

  test('a streamed response (GraphQL subscription over SSE) arrives in pieces before it ends', async () => {
    const ac = new AbortController();
    const r = await relay(`/${regionId}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { clientChanged { kind client { name } } }' }),
      signal: ac.signal,
    });
    try {
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
      const reader = r.body!.getReader();
      const dec = new TextDecoder();
      let text = '';
      const names = ['sse-one', 'sse-two'];
      for (const name of names) {
        const created = await fetch(`${regionUrl}/api/cascade/clients`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${REGION_TOKEN}` },
          body: JSON.stringify({ name, secret: `${name}-secret` }),
        });
        assert.equal(created.status, 200);
        const deadline = Date.now() + 5_000;
        while (!text.includes(name)) {
          assert.ok(Date.now() < deadline, `event for ${name} relayed in time`);
          const { value, done } = await Promise.race([
            reader.read(),
            new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no SSE piece in time')), 5_000).unref()),
          ]);
          assert.equal(done, false, 'the response is still open');
          text += dec.decode(value, { stream: true });
        }
      }
      assert.match(text, /data:.*sse-one/);
    } finally {
      ac.abort();
    }
  });

  test('errors: unknown 404, offline 503, lower relay disabled 403, not a cascade server 403', async () => {
    assert.equal((await relay('/999999/api/stream/list')).status, 404);
    assert.equal((await relay('/abc/api/stream/list')).status, 404);
    const c = await fetch(`${hq.url}/api/cascade/clients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${HQ_TOKEN}` },
      body: JSON.stringify({ name: 'never-online-2', secret: 'never-online-secret-2' }),
    });
    const rec = (await envelope(c)).data as ClientJson;
    const offline = await relay(`/${rec.id}/api/stream/list`);
    assert.equal(offline.status, 503);
    assert.equal((await envelope(offline)).code, 503);
    const disabled = await relay(`/${offId}/api/stream/list`);
    assert.equal(disabled.status, 403);
    assert.match((await envelope(disabled)).message, /disabled on node edge-off/);
    const edgeNode = nodes.find((n) => n.app.config.name === 'edge')!;
    const notServer = await fetch(`${edgeNode.url}/api/relay/1/api/stream/list`);
    assert.equal(notServer.status, 403);
  });

  test('admin token: needed on the upper node, never forwarded down; X-Relay-Authorization carries the next one', async () => {
    const noToken = await fetch(`${hq.url}/api/relay/${regionId}/api/stream/list`);
    assert.equal(noToken.status, 401);
    const noRegionToken = await fetch(`${hq.url}/api/relay/${regionId}/api/stream/list`, { headers: { authorization: `Bearer ${HQ_TOKEN}` } });
    assert.equal(noRegionToken.status, 401, 'the region saw no token: hq\'s own was not forwarded');
    assert.match((await envelope(noRegionToken)).message, /admin token/);
  });

  test('request bodies are bounded: 413 by content-length and while streaming', async () => {
    const big = await relay(`/${regionId}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(5_000) });
    assert.equal(big.status, 413);
    assert.equal((await envelope(big)).code, 413);
    const chunks = [new Uint8Array(3_000), new Uint8Array(3_000)];
    const streamed = await relay(`/${regionId}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream<Uint8Array>({
        pull(ctrl) {
          const c = chunks.shift();
          if (c) ctrl.enqueue(c);
          else ctrl.close();
        },
      }),
      duplex: 'half',
    } as RequestInit & { headers: Record<string, string> });
    assert.equal(streamed.status, 413);
    // A chunked body within the limit arrives with a Content-Length (GraphQL needs one).
    const query = new TextEncoder().encode(JSON.stringify({ query: '{ node { name } }' }));
    const pieces = [query.subarray(0, 5), query.subarray(5)];
    const chunked = await relay(`/${regionId}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: new ReadableStream<Uint8Array>({
        pull(ctrl) {
          const c = pieces.shift();
          if (c) ctrl.enqueue(c);
          else ctrl.close();
        },
      }),
      duplex: 'half',
    } as RequestInit & { headers: Record<string, string> });
    assert.equal(chunked.status, 200);
    assert.deepEqual(((await chunked.json()) as { data: unknown }).data, { node: { name: 'region' } });
  });

  test('a lower node too slow to answer gives 504 within the configured timeout', async () => {
    const started = Date.now();
    // The body never completes, so the region's GraphQL endpoint never answers.
    const status = await rawStatus(
      '127.0.0.1',
      hq.app.addresses.http.port,
      `POST /api/relay/${regionId}/graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${HQ_TOKEN}\r\nX-Relay-Authorization: Bearer ${REGION_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":`,
      2_000,
    );
    assert.equal(status, 504);
    const took = Date.now() - started;
    assert.ok(took >= 1_400 && took < 4_000, `took ${took} ms`);
  });

  test('whitelists on both ends, IPv4 and IPv6 callers (X-Forwarded-For from a trusted proxy, and a real [::1] peer)', async () => {
    const as = (ip: string) => relay(`/${regionId}/api/stream/list`, { headers: { 'x-forwarded-for': `203.0.113.9, ${ip}` } });
    // Allowed at hq and at region (IPv4 peer itself, IPv6 via XFF).
    assert.equal((await relay(`/${regionId}/api/stream/list`)).status, 200);
    assert.equal((await as('2001:db8::5')).status, 200);
    // Denied by hq's whitelist (server side).
    const v4deny = await as('10.1.1.1');
    assert.equal(v4deny.status, 403);
    assert.match((await envelope(v4deny)).message, /caller 10\.1\.1\.1 is not in the relay whitelist$/);
    const v6deny = await as('2001:db8:1::1');
    assert.equal(v6deny.status, 403);
    // Passed by hq, denied by region's cascade-client whitelist (client side, on the caller hq passed along).
    const clientV4 = await as('198.51.100.7');
    assert.equal(clientV4.status, 403);
    assert.match((await envelope(clientV4)).message, /caller 198\.51\.100\.7 is not in the relay whitelist of node region/);
    const clientV6 = await as('2001:db8::6');
    assert.equal(clientV6.status, 403);
    assert.match((await envelope(clientV6)).message, /of node region/);
    // A real IPv6 peer on region's [::1] listener, relayed to edge (edge's whitelist has ::1);
    // region trusts no proxy, so X-Forwarded-For is ignored.
    const direct = await fetch(`${regionUrl}/api/relay/${edgeId}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${REGION_TOKEN}`, 'content-type': 'application/json', 'x-forwarded-for': '10.9.9.9' },
      body: JSON.stringify({ query: '{ node { name } }' }),
    });
    assert.equal(direct.status, 200);
    assert.deepEqual(((await direct.json()) as { data: unknown }).data, { node: { name: 'edge' } });
    // Real IPv6 peers refused: by hq's whitelist (server side), and by edge-v4's (client side, caller passed along by region).
    const hqPort = hq.app.addresses.http.port;
    const v6server = await fetch(`http://[::1]:${hqPort}/api/relay/${regionId}/api/stream/list`, { headers: { authorization: `Bearer ${HQ_TOKEN}` } });
    assert.equal(v6server.status, 403);
    assert.match((await envelope(v6server)).message, /caller ::1 is not in the relay whitelist$/);
    const v6client = await fetch(`${regionUrl}/api/relay/${edgeV4Id}/api/stream/list`, { headers: { authorization: `Bearer ${REGION_TOKEN}` } });
    assert.equal(v6client.status, 403);
    assert.match((await envelope(v6client)).message, /caller ::1 is not in the relay whitelist of node edge-v4/);
    // The IPv4 caller reaches edge-v4 through hq and region.
    assert.equal((await relay(`/${regionId}/api/relay/${edgeV4Id}/api/stream/list`)).status, 200);
    // Region's own whitelist applies to the original caller on the second hop.
    const hop2v6 = await relay(`/${regionId}/api/relay/${edgeId}/api/stream/list`, { headers: { 'x-forwarded-for': '2001:db8::5' } });
    assert.equal(hop2v6.status, 200, '2001:db8::5 is allowed at hq, region (client and server) and edge');
  });

  test('a lower node going away mid-stream ends the relayed response (no hang); then 503', async () => {
    // Runs last: it stops edge. An open SSE subscription on edge, relayed by region from a [::1] caller.
    const ac = new AbortController();
    const r = await fetch(`${regionUrl}/api/relay/${edgeId}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${REGION_TOKEN}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { streamChanged { kind } }' }),
      signal: ac.signal,
    });
    try {
      assert.equal(r.status, 200);
      const reader = r.body!.getReader();
      const edge = nodes.find((n) => n.app.config.name === 'edge')!;
      nodes.splice(nodes.indexOf(edge), 1);
      const stopped = edge.stop();
      const started = Date.now();
      const ended = await Promise.race([
        (async () => {
          for (;;) {
            const { done } = await reader.read();
            if (done) return 'ended';
          }
        })().catch(() => 'errored'),
        new Promise<string>((res) => setTimeout(() => res('hung'), 6_000).unref()),
      ]);
      assert.notEqual(ended, 'hung');
      assert.ok(Date.now() - started < 6_000);
      await stopped;
      const after = await fetch(`${regionUrl}/api/relay/${edgeId}/api/stream/list`, { headers: { authorization: `Bearer ${REGION_TOKEN}` } });
      assert.equal(after.status, 503);
    } finally {
      ac.abort();
    }
  });

  test('traversal, absolute URLs and CR/LF injection are refused with 400', async () => {
    const port = hq.app.addresses.http.port;
    const auth = `Authorization: Bearer ${HQ_TOKEN}\r\nX-Relay-Authorization: Bearer ${REGION_TOKEN}\r\n`;
    const get = (target: string, extra = '') => rawStatus('127.0.0.1', port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${auth}${extra}Connection: close\r\n\r\n`);
    const id = regionId;
    const bad = [
      `/api/relay/${id}/api/../api/stream/list`,
      `/api/relay/${id}/api/%2e%2e/api/stream/list`,
      `/api/relay/${id}/api/%2E%2E/x`,
      `/api/relay/${id}/api/%252e%252e/x`,
      `/api/relay/${id}/api%2fstream/list`,
      `/api/relay/${id}/api/stream%5c..%5clist`,
      `/api/relay/${id}/http://169.254.169.254/latest`,
      `/api/relay/${id}//evil.example/x`,
      `/api/relay/${id}/api/stream/list%0d%0aX-Injected:%201`,
      `/api/./relay/${id}/api/stream/list`,
      `/x/../api/relay/${id}/api/stream/list`,
    ];
    for (const t of bad) assert.equal(await get(t), 400, t);
    // Raw CR in a header, and a raw backslash in the path.
    assert.equal(await get(`/api/relay/${id}/api/stream/list`, 'X-Evil: a\rInjected: 1\r\n'), 400);
    assert.equal(await get(`/api/relay/${id}/api\\..\\x`), 400);
    // Still fine afterwards.
    assert.equal(await get(`/api/relay/${id}/api/stream/list`), 200);
  });
});
