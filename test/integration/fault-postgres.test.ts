/**
 * PostgreSQL goes away under a running HQ and comes back. The machine's
 * cluster is shared with other test files, so the outage is a TCP proxy of
 * this test's own between the HQ and PostgreSQL, cut and restored.
 *
 * While it is down: the API answers at once with clean errors (503 envelope /
 * GraphQL code UNAVAILABLE, no stack), live cascade links stay up, a link that
 * ends is noted, a new client is refused with a retryable code. After it is
 * back: the API works, no record is lost, and every record's online state
 * matches the live links again without any manual step.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { UpperLink } from '../../dataplane/cascade/index.js';
import { CloseCode } from '../../dataplane/protocol/index.js';
import { lightClient, startCapturedNode, waitState, type CapturedNode } from '../helpers/captured-node.js';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/node.js';
import { requirePostgres } from '../helpers/requirements.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

type ClientJson = { id: number; name: string; online: boolean };

async function api(node: { url: string }, method: string, p: string, body?: unknown) {
  const t0 = Date.now();
  const r = await fetch(node.url + p, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text();
  return { status: r.status, text, ms: Date.now() - t0, json: JSON.parse(text) as { code?: number; message?: string; data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } };
}

const STACK = /\bat [\w.<>]+ \(|node_modules|\.ts:\d+|Error:/;

const gate = await requirePostgres();

describe('fault: PostgreSQL outage under a running HQ', gate, () => {
  let db: TestDatabase | null = null;
  let proxy: TcpProxy | null = null;
  let hq: CapturedNode | null = null;
  const clients: UpperLink[] = [];
  after(async () => {
    for (const c of clients) await c.stop().catch(() => undefined);
    proxy?.restore();
    await hq?.stop().catch(() => undefined);
    await proxy?.close();
    await db?.drop().catch(() => undefined);
  });

  test('clean errors while down, links stay up, nothing lost, online states re-synced after', async () => {
    db = await createPostgresDatabase();
    const u = new URL(db.url);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.host = `127.0.0.1:${proxy.port}`;
    hq = await startCapturedNode({ name: 'hq', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, autoregister: false } }, u.toString(), 'info');
    const node = hq;
    const quic = node.app.addresses.quic!;
    const fp = node.app.services.node.fingerprint!;
    const names = ['stays', 'leaves', 'arrives', 'idle'];
    const ids = new Map<string, number>();
    for (const name of names) {
      const r = await api(node, 'POST', '/api/cascade/clients', { name, secret: `${name}-secret-key` });
      assert.equal(r.status, 200, r.text);
      ids.set(name, (r.json.data as ClientJson).id);
    }
    const edge = (name: string): UpperLink => {
      const c = lightClient(quic, fp, `${name}-secret-key`, name, { backoffInitialMs: 200, backoffMaxMs: 1_000 });
      clients.push(c);
      c.start();
      return c;
    };
    const stays = edge('stays');
    const leaves = edge('leaves');
    await waitState(stays, (s) => s.state === 'online');
    await waitState(leaves, (s) => s.state === 'online');
    await waitFor(async () => ((await api(node, 'GET', '/api/cascade/clients')).json.data as ClientJson[]).filter((c) => c.online).length === 2, 5_000, 'two online');
    let staysDropped = false;
    stays.on('stateChanged', (s) => {
      if (s.state !== 'online') staysDropped = true;
    });

    // ---- outage
    proxy.cut();
    const cutAt = Date.now();
    const list = await api(node, 'GET', '/api/cascade/clients');
    assert.equal(list.status, 503, list.text);
    assert.equal(list.json.code, 503);
    assert.match(list.json.message ?? '', /database unavailable/);
    assert.doesNotMatch(list.text, STACK);
    const create = await api(node, 'POST', '/api/cascade/clients', { name: 'during', secret: 'during-secret' });
    assert.equal(create.status, 503, create.text);
    assert.doesNotMatch(create.text, STACK);
    const g = await api(node, 'POST', '/graphql', { query: '{ clients { id name online } }' });
    assert.equal(g.json.errors?.[0]?.extensions?.code, 'UNAVAILABLE', g.text);
    assert.match(g.json.errors?.[0]?.message ?? '', /database unavailable/);
    assert.doesNotMatch(g.text, STACK);
    for (const r of [list, create, g]) assert.ok(r.ms < 6_000, `answered in ${r.ms} ms`);
    // Endpoints that do not need the database keep working.
    assert.equal((await api(node, 'GET', '/api/stream/list')).status, 200);

    // A link ends and a new client arrives while the database is down.
    await leaves.stop();
    const arrives = edge('arrives');
    const refused = await waitState(arrives, (s) => s.state === 'backoff', 10_000);
    assert.equal(refused.lastErrorCode, CloseCode.InternalError, 'refused with a retryable code');
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(stays.status().state, 'online', 'the live link stays up');
    assert.ok(proxy.refused > 0, 'the node tried to reach the database');

    // ---- recovery
    proxy.restore();
    const restoredAt = Date.now();
    await waitFor(async () => (await api(node, 'GET', '/api/cascade/clients')).status === 200, 15_000, 'API back');
    const apiBackMs = Date.now() - restoredAt;
    await waitState(arrives, (s) => s.state === 'online', 15_000);
    const settled = await waitFor(async () => {
      const cs = (await api(node, 'GET', '/api/cascade/clients')).json.data as ClientJson[];
      const state = Object.fromEntries(cs.map((c) => [c.name, c.online]));
      return state.stays === true && state.leaves === false && state.arrives === true && state.idle === false ? cs : null;
    }, 15_000, 'online states match the live links');
    const syncedMs = Date.now() - restoredAt;
    assert.deepEqual(settled.map((c) => [c.name, c.id]).sort(), names.map((n) => [n, ids.get(n)]).sort(), 'no record lost');
    assert.equal(staysDropped, false, 'the live link never dropped');
    const created = await api(node, 'POST', '/api/cascade/clients', { name: 'after', secret: 'after-secret' });
    assert.equal(created.status, 200, created.text);
    assert.ok(node.logs.some((l) => l.msg === 'client online states re-synced with the live links'), 'the re-sync is logged');
    process.stdout.write(
      `# postgres outage: down ${restoredAt - cutAt} ms, API back ${apiBackMs} ms after restore, states re-synced ${syncedMs} ms after restore, ${proxy.refused} connection attempts refused\n`,
    );
  });
});
