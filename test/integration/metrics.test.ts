/**
 * GET /metrics on real nodes: an HQ and a lower node with autopush, scraped before and
 * during a push of synthetic FLV tags and around one relayed API call; a refused lower
 * node; the upstream reconnect counter across restarts of the upper node; the token with
 * http.protectreads; a listener of its own; the bounded path labels.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import type { MediaTag } from '../../dataplane/media/index.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';
import { aacHeader, avcHeader, sleep, startHq, startLower, syntheticTag, syntheticWriter, waitOnline } from './forwarding-helpers.js';

const nodes: TestNode[] = [];
after(async () => {
  for (const n of nodes.reverse()) await n.stop().catch(() => {});
});
function keep(n: TestNode): TestNode {
  nodes.push(n);
  return n;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(n: TestNode, token?: string): Promise<Sample[]> {
  const r = await fetch(`${n.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(await r.text());
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(hits.length <= 1, `one sample of ${name} ${JSON.stringify(labels)}, got ${hits.length}`);
  return hits[0]?.value;
}

/** The sum of every sample of `name` (0 when there is none). */
function total(samples: Sample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
}

const bytesOf = (tags: MediaTag[]): number => tags.reduce((a, t) => a + t.data.length, 0);

describe('metrics: an HQ and a lower node', () => {
  test('links, clients, publishers, bytes during a push, a relayed call and a refused node move the counters by the right amounts', async () => {
    const hq = keep(
      await startHq('m-hq', {
        'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, autoregister: false, relayapi: { enable: true, whitelist: ['127.0.0.0/8'] } },
      }),
    );
    await hq.app.services.clients.create({ name: 'm-edge', secret: 'm-edge-secret' });
    const edge = keep(await startLower(hq, 'm-edge', { autopush: true, secret: 'm-edge-secret', relayapi: { enable: true, whitelist: ['127.0.0.0/8'] } }));

    // Before: the link is up on both sides, nothing published.
    const h0 = await waitFor(async () => {
      const s = await scrape(hq);
      return value(s, 'cascade_link_rtt_seconds', { link: 'lower', peer: 'm-edge' }) !== undefined ? s : null;
    }, 15_000, 'an RTT sample of the link at HQ');
    assert.equal(value(h0, 'cascade_clients', { state: 'online' }), 1);
    assert.equal(value(h0, 'cascade_clients', { state: 'offline' }), 0);
    assert.equal(value(h0, 'cascade_link_up', { link: 'lower', peer: 'm-edge' }), 1);
    assert.ok(value(h0, 'cascade_link_rtt_seconds', { link: 'lower', peer: 'm-edge' })! >= 0);
    assert.equal(total(h0, 'stream_publishers'), 0);
    assert.equal(value(h0, 'cascade_auth_failures_total'), undefined, 'no refusal yet');
    assert.ok(value(h0, 'nodejs_heap_size_used_bytes')! > 0, 'process metrics');
    assert.ok(value(h0, 'nodejs_eventloop_lag_seconds')! >= 0, 'event-loop lag');
    assert.ok(value(h0, 'process_resident_memory_bytes')! > 0, 'RSS');
    const e0 = await scrape(edge);
    assert.equal(value(e0, 'cascade_link_up', { link: 'upstream', peer: 'm-hq' }), 1);
    assert.equal(value(e0, 'cascade_link_reconnects_total', { link: 'upstream' }), 0);
    assert.equal(value(e0, 'cascade_forward_bytes_total', { direction: 'push' }), 0);

    // During a push: every byte written at the edge is counted in at the edge, out to the
    // push, sent up the link, and in at HQ. The first GOP is shorter than the cache, so HQ
    // gets all of it even if the push subscribes after the first writes.
    const path = 'live/metrics';
    const pub = edge.app.hub.publish(path, { protocol: 'test', remote: 'test' });
    const { sent, write } = syntheticWriter(pub);
    sent.push(avcHeader(), aacHeader());
    for (const t of sent) pub.write(t);
    write(10);
    await waitFor(() => hq.app.hub.has(path), 10_000, 'stream at HQ');
    for (let i = 0; i < 20; i++) {
      write(10);
      await sleep(10);
    }
    const written = bytesOf(sent);
    const e1 = await scrape(edge);
    assert.equal(value(e1, 'stream_bytes_in_total', { path }), written, 'bytes in at the edge: all written');
    assert.equal(value(e1, 'stream_publishers', { protocol: 'test' }), 1);
    assert.equal(value(e1, 'stream_live', { path }), 1);
    assert.equal(value(e1, 'stream_subscribers', { protocol: 'cascade' }), 1, 'the push subscribes at the edge');
    await waitFor(async () => {
      const e = await scrape(edge);
      return value(e, 'stream_bytes_out_total', { path }) === written && value(e, 'cascade_forward_bytes_total', { direction: 'push' }) === written;
    }, 15_000, 'edge: all bytes delivered to the push and sent up');
    const h1 = await waitFor(async () => {
      const s = await scrape(hq);
      return value(s, 'stream_bytes_in_total', { path }) === written ? s : null;
    }, 15_000, 'HQ: all bytes in');
    assert.equal(value(h1, 'stream_publishers', { protocol: 'cascade' }), 1);
    assert.equal(value(h1, 'cascade_forward_bytes_total', { direction: 'push' }), 0, 'HQ pushes nothing');

    // The end of the stream adds what was not yet scraped and leaves the counter where it was.
    write(10);
    const final = bytesOf(sent);
    pub.close('done');
    await waitFor(() => !hq.app.hub.has(path), 10_000, 'copy at HQ ends');
    const e2 = await scrape(edge);
    assert.equal(value(e2, 'stream_bytes_in_total', { path }), final, 'bytes written after the last scrape are counted at unpublish');
    assert.equal(total(e2, 'stream_publishers'), 0);
    assert.equal(value(e2, 'stream_live', { path }), undefined);
    const h2 = await waitFor(async () => {
      const s = await scrape(hq);
      return value(s, 'stream_bytes_in_total', { path }) === final ? s : null;
    }, 15_000, 'HQ: the last bytes in');
    assert.equal(total(h2, 'stream_publishers'), 0);

    // One relayed API call: +1 in 2xx and one more duration observation.
    const edgeId = (await hq.app.services.clients.list()).find((c) => c.name === 'm-edge')!.id;
    const before = await scrape(hq);
    const r = await fetch(`${hq.url}/api/relay/${edgeId}/api/stream/list`);
    assert.equal(r.status, 200);
    await r.text();
    const afterRelay = await waitFor(async () => {
      const s = await scrape(hq);
      return value(s, 'relay_request_duration_seconds_count')! > value(before, 'relay_request_duration_seconds_count')! ? s : null;
    }, 5_000, 'the relayed call observed');
    assert.equal(value(afterRelay, 'relay_requests_total', { class: '2xx' }), value(before, 'relay_requests_total', { class: '2xx' })! + 1);
    assert.equal(value(afterRelay, 'relay_requests_total', { class: '4xx' }), value(before, 'relay_requests_total', { class: '4xx' }));
    assert.equal(value(afterRelay, 'relay_request_duration_seconds_count'), value(before, 'relay_request_duration_seconds_count')! + 1);
    // A call to an unknown instance is a 4xx.
    const missing = await fetch(`${hq.url}/api/relay/999999/api/stream/list`);
    assert.equal(missing.status, 404);
    await missing.text();
    const afterMissing = await scrape(hq);
    assert.equal(value(afterMissing, 'relay_requests_total', { class: '4xx' }), value(before, 'relay_requests_total', { class: '4xx' })! + 1);

    // A lower node with the right name and a wrong secret is refused and counted.
    const impostor = keep(await startNode({ name: 'm-edge', 'cascade-client': { server: `127.0.0.1:${hq.app.addresses.quic!.port}`, secret: 'not-the-secret' } }));
    const h3 = await waitFor(async () => {
      const s = await scrape(hq);
      return total(s, 'cascade_auth_failures_total') >= 1 ? s : null;
    }, 15_000, 'the refusal counted');
    await impostor.stop();
    const reasons = h3.filter((s) => s.name === 'cascade_auth_failures_total').map((s) => s.labels.reason);
    assert.equal(reasons.length, 1, 'one reason');
    assert.match(reasons[0]!, /^Auth(WrongSecret|UnknownSecret)$/);
    assert.equal(value(h3, 'cascade_link_up', { link: 'lower', peer: 'm-edge' }), 1, 'the real edge stays up');

    // The same lower node connecting again (here a second process with its name and secret)
    // is a reconnect at HQ; the link it replaces is down at the first edge.
    assert.equal(value(h3, 'cascade_link_reconnects_total', { link: 'lower' }), 0);
    const clone = keep(await startNode({ name: 'm-edge', 'cascade-client': { server: `127.0.0.1:${hq.app.addresses.quic!.port}`, secret: 'm-edge-secret' } }));
    await waitFor(async () => value(await scrape(hq), 'cascade_link_reconnects_total', { link: 'lower' }) === 1, 15_000, 'the reconnect counted');
    await waitFor(async () => value(await scrape(edge), 'cascade_link_up', { link: 'upstream', peer: 'm-hq' }) === 0, 15_000, 'the replaced link down');
    assert.equal(value(await scrape(hq), 'cascade_link_up', { link: 'lower', peer: 'm-edge' }), 1, 'the record has a live link');

    // The edge goes away: its record is offline and its link down.
    await clone.stop();
    await edge.stop();
    const h4 = await waitFor(async () => {
      const s = await scrape(hq);
      return value(s, 'cascade_link_up', { link: 'lower', peer: 'm-edge' }) === 0 ? s : null;
    }, 15_000, 'link down at HQ');
    assert.equal(value(h4, 'cascade_clients', { state: 'online' }), 0);
    assert.equal(value(h4, 'cascade_clients', { state: 'offline' }), 1);
    assert.equal(value(h4, 'cascade_link_rtt_seconds', { link: 'lower', peer: 'm-edge' }), undefined);
  });
});

describe('metrics: the upstream link reconnect counter', () => {
  test('the upper node drops the link: one upstream reconnect once the link is back; the failed attempts in between count none', async () => {
    let hq = keep(await startHq('r-hq'));
    // The upper node comes back with its identity (the lower node trusts it on first use) and port.
    const identity = tempDir('sc-metrics-identity-');
    after(() => removeDir(identity));
    for (const f of ['cascade-cert.pem', 'cascade-key.pem']) copyFileSync(path.join(hq.datadir, f), path.join(identity, f));
    const quic = {
      listenaddr: `127.0.0.1:${hq.app.addresses.quic!.port}`,
      certfile: path.join(identity, 'cascade-cert.pem'),
      keyfile: path.join(identity, 'cascade-key.pem'),
    };
    const edge = keep(await startLower(hq, 'r-edge'));
    let failed = 0; // attempts that ended before coming online
    let last = 'online';
    edge.app.services.events.on('upstreamChanged', (u) => {
      if (last === 'connecting' && u.state === 'backoff') failed++;
      last = u.state;
    });
    assert.equal(value(await scrape(edge), 'cascade_link_reconnects_total', { link: 'upstream' }), 0);
    // The upper node goes (its process ends: every link it holds drops), stays away until an
    // attempt of the lower node has failed, and comes back on the same port.
    await hq.stop();
    await waitFor(() => failed > 0, 30_000, 'a failed attempt while the upper node is away');
    hq = keep(await startHq('r-hq', { 'cascade-server': { quic } }));
    await waitOnline(edge);
    const e = await scrape(edge);
    assert.ok(failed >= 1);
    assert.equal(value(e, 'cascade_link_reconnects_total', { link: 'upstream' }), 1, `one reconnect, whatever the ${failed} failed attempts`);
    assert.equal(value(e, 'cascade_link_up', { link: 'upstream', peer: 'r-hq' }), 1);
    // The new upper node has seen this lower node once: no reconnect there.
    assert.equal(value(await scrape(hq), 'cascade_link_reconnects_total', { link: 'lower' }), 0);
  });
});

describe('metrics: access and bounds', () => {
  test('with http.protectreads /metrics needs the token', async () => {
    const token = 'metrics-admin-token';
    const n = keep(await startNode({ name: 'm-protected', http: { listenaddr: '127.0.0.1:0', token, protectreads: true } }));
    const none = await fetch(`${n.url}/metrics`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.equal(((await none.json()) as { code: number }).code, 401);
    const wrong = await fetch(`${n.url}/metrics`, { headers: { authorization: 'Bearer nope-nope-nope' } });
    assert.equal(wrong.status, 401);
    await wrong.text();
    assert.ok(value(await scrape(n, token), 'process_resident_memory_bytes')! > 0);
    const post = await fetch(`${n.url}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(post.status, 405);
    await post.text();
  });

  test('GraphQL operations are counted by type, never by the caller\'s operation name', async () => {
    const n = keep(await startNode({ name: 'm-graphql' }));
    const post = async (query: string): Promise<void> => {
      const r = await fetch(`${n.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      assert.equal(r.status, 200);
      await r.text();
    };
    await post('query FirstName { node { name } }');
    const s1 = await scrape(n);
    const before = value(s1, 'graphql_envelop_request', { operationType: 'query' }) ?? 0;
    await post('query SomeOtherName { node { name } }');
    await post('query { nosuchfield }');
    const s2 = await scrape(n);
    assert.equal(value(s2, 'graphql_envelop_request', { operationType: 'query' }), before + 1, 'the valid query counted');
    assert.ok(total(s2, 'graphql_envelop_error_result') >= 1, 'the invalid one counted as an error');
    assert.equal(value(s2, 'graphql_envelop_request_duration_count', { operationType: 'query' }), before + 1);
    assert.ok(!s2.some((x) => 'operationName' in x.labels), 'no operation name label');
  });

  test('with a token but without protectreads /metrics is open, like other reads', async () => {
    const n = keep(await startNode({ name: 'm-token', http: { listenaddr: '127.0.0.1:0', token: 'metrics-admin-token' } }));
    assert.ok(value(await scrape(n), 'process_resident_memory_bytes')! > 0);
  });

  test('metrics.listenaddr: served there only, with the same token rule', async () => {
    const token = 'metrics-admin-token';
    const n = keep(
      await startNode({ name: 'm-own', http: { listenaddr: '127.0.0.1:0', token, protectreads: true }, metrics: { listenaddr: '127.0.0.1:0' } }),
    );
    const own = n.app.addresses.metrics;
    assert.ok(own, 'the metrics listener address');
    const onMain = await fetch(`${n.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(onMain.status, 404, 'not on the HTTP listener');
    await onMain.text();
    const url = `http://127.0.0.1:${own.port}`;
    const none = await fetch(`${url}/metrics`);
    assert.equal(none.status, 401);
    await none.text();
    assert.ok(value(await scrape({ url } as TestNode, token), 'process_resident_memory_bytes')! > 0);
    const other = await fetch(`${url}/api/stream/list`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(other.status, 404);
    await other.text();
  });

  test('metrics.maxstreamlabels: paths past the bound count under path="other"', async () => {
    const n = keep(await startNode({ name: 'm-bound', metrics: { maxstreamlabels: 1 } }));
    const a = n.app.hub.publish('live/a', { protocol: 'test', remote: 'test' });
    const b = n.app.hub.publish('live/b', { protocol: 'test', remote: 'test' });
    const c = n.app.hub.publish('live/c', { protocol: 'test', remote: 'test' });
    a.write(syntheticTag(0));
    const s1 = await scrape(n);
    // live/a took the one label at the first scrape (the first path seen); b and c share "other".
    b.write(syntheticTag(0));
    c.write(syntheticTag(2));
    const s2 = await scrape(n);
    assert.equal(value(s1, 'stream_bytes_in_total', { path: 'live/a' }), syntheticTag(0).data.length);
    assert.equal(value(s2, 'stream_bytes_in_total', { path: 'other' }), syntheticTag(0).data.length + syntheticTag(2).data.length);
    assert.equal(value(s2, 'stream_bytes_in_total', { path: 'live/b' }), undefined);
    assert.equal(value(s2, 'stream_bytes_in_total', { path: 'live/c' }), undefined);
    assert.equal(value(s2, 'stream_publishers', { protocol: 'test' }), 3);
    assert.equal(value(s2, 'stream_live', { path: 'live/a' }), 1);
    assert.equal(value(s2, 'stream_live', { path: 'other' }), 2);
    for (const p of [a, b, c]) p.close();
  });
});
