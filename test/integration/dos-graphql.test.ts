/**
 * Anonymous denial of service over GraphQL: documents are bounded
 * before they are parsed. Sixteen 1 MB queries at once at the upper node of a
 * cascade (a real process) neither stall it nor drop its link; with
 * `http.protectreads` nothing is parsed for a caller without the token.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';
import { startProcessNode, writeNodeConfig, type ProcessNode } from '../helpers/process-node.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const dir = tempDir('sc-dos-graphql-');

interface GqlAnswer {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };
}

async function post(url: string, query: string, headers: Record<string, string> = {}, timeoutMs = 120_000): Promise<GqlAnswer> {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: r.status, body: (await r.json()) as GqlAnswer['body'] };
}

/** About 1 MB of a valid-looking query: one field selected ~200 000 times (`i` makes each one new to the parser cache). */
const bigQuery = (i = 0): string => `{ node { ${'name '.repeat(199_000 - i)}} }`;

/** CPU seconds a process has used (user + system, Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

type LinkFacts = { name: string; online: boolean; connectedSince: string | null };

describe('GraphQL: document size bounded before parsing', () => {
  const nodes: TestNode[] = [];
  let hq: ProcessNode | null = null;
  after(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => undefined);
    await hq?.stop('SIGKILL');
    removeDir(dir);
  });

  test('sixteen 1 MB queries at once at the upper node: refused with 413 unparsed, the link keeps its session, a small query answers', async () => {
    hq = await startProcessNode(
      writeNodeConfig(dir, 'hq', { database: { url: 'pglite://memory' }, 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } }),
    );
    const h = hq;
    const quic = String((await h.waitLog((l) => l.msg === 'cascade server listening (QUIC)')).address);
    const edge = await startNode({ name: 'edge', 'cascade-client': { server: `127.0.0.1:${quic.slice(quic.lastIndexOf(':') + 1)}`, secret: 'edge-secret-value' } });
    nodes.push(edge);
    const links = async (): Promise<LinkFacts[]> =>
      (await post(h.httpUrl, '{ clients { name online connectedSince } }', {}, 60_000)).body.data?.clients as LinkFacts[];
    const before = await waitFor(async () => (await links()).find((c) => c.name === 'edge' && c.online && c.connectedSince), 30_000, 'edge online');

    const big = bigQuery();
    assert.ok(big.length > 990_000 && big.length < 1_000_000);

    const pid = h.child.pid as number;
    const cpuBefore = cpuSeconds(pid);
    const attack = Array.from({ length: 16 }, (_, i) => post(h.httpUrl, bigQuery(i)));
    // A small query sent while the sixteen are in: answered (it waits behind at most the reading of their bodies).
    const small = await post(h.httpUrl, '{ node { name } }', {}, 60_000);
    assert.deepEqual(small.body.data, { node: { name: 'hq' } });
    const answers = await Promise.all(attack);
    // Work, not time: parsing and validating them took the node 5 CPU-seconds in all on main (its
    // event loop blocked ~0.3 s at a time); refusing them unparsed costs reading the bodies (0.2 s).
    const cpu = cpuSeconds(pid) - cpuBefore;
    assert.ok(cpu < 2, `the node spent ${cpu.toFixed(1)} CPU-seconds on the sixteen queries`);
    for (const a of answers) {
      assert.equal(a.status, 413);
      assert.equal(a.body.errors?.[0]?.extensions?.code, 'QUERY_TOO_LARGE', JSON.stringify(a.body.errors));
    }

    // A document under the byte bound but over the token bound: refused by the parser's token count.
    const tokens = await post(h.httpUrl, `{ node { ${'name '.repeat(6_000)}} }`);
    assert.equal(tokens.status, 413);
    assert.match(tokens.body.errors?.[0]?.message ?? '', /more than 5000 tokens/);

    // The link is the same session: still online, connected since the same moment.
    const after = (await links()).find((c) => c.name === 'edge');
    assert.deepEqual(after, before);
    const up = (await post(edge.url, '{ upstream { state } }')).body.data?.upstream as { state: string };
    assert.equal(up.state, 'ONLINE');
    assert.equal(h.lines.filter((l) => l.msg === 'cascade client offline').length, 0);
  });

  test('with protectreads the token is checked before parsing: no syntax error, no size error, just 401', async () => {
    const node = await startNode({ http: { listenaddr: '127.0.0.1:0', token: 'admin-token-123', protectreads: true } });
    nodes.push(node);
    for (const q of ['{ node { name ', bigQuery(), '{ node { name } }']) {
      const r = await post(node.url, q);
      assert.equal(r.body.errors?.[0]?.extensions?.code, 'UNAUTHORIZED', `${q.slice(0, 20)}: ${JSON.stringify(r.body.errors).slice(0, 300)}`);
      assert.equal(r.status, 401);
    }
    const ok = await post(node.url, '{ node { name } }', { authorization: 'Bearer admin-token-123' });
    assert.deepEqual(ok.body.data, { node: { name: 'test-node' } });
    const broken = await post(node.url, '{ node { name ', { authorization: 'Bearer admin-token-123' });
    assert.match(broken.body.errors?.[0]?.message ?? '', /Syntax Error/);
  });
});
