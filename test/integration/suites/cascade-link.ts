/**
 * The cascade link between real nodes over real QUIC on 127.0.0.1, run on
 * PGlite and on PostgreSQL (cascade-link.*.test.ts).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  AuthRejectedDocument,
  ClientChangedDocument,
  ClientLinksDocument,
  UpstreamChangedDocument,
  UpstreamDocument,
} from '../../generated/graphql.js';
import { gql, rest, startNode, waitFor, type TestNode } from '../../helpers/node.js';
import { startProcessNode, writeConfig } from '../../helpers/process-node.js';
import { subscribe } from '../../helpers/ws-client.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

type ClientJson = { id: number; name: string; ip: string | null; online: boolean };

async function clientsOf(node: { url: string }): Promise<ClientJson[]> {
  return (await rest(node, 'GET', '/api/cascade/clients')).json.data as ClientJson[];
}

async function upstreamOf(node: TestNode) {
  const r = await gql(node, UpstreamDocument);
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  return r.data!.upstream!;
}

export function cascadeLinkSuite(label: string, dbUrl: () => Promise<string>): void {
  describe(`cascade link on ${label}`, () => {
    const nodes: TestNode[] = [];
    const tmp = tempDir('sc-link-');
    after(async () => {
      for (const n of nodes.reverse()) await n.stop().catch(() => {});
      removeDir(tmp);
    });

    async function server(extra: Record<string, unknown> = {}, url?: string): Promise<TestNode> {
      const n = await startNode(
        { name: 'hq', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, ...extra } },
        url ?? (await dbUrl()),
      );
      nodes.push(n);
      return n;
    }
    async function client(hq: TestNode, cc: Record<string, unknown>, name = 'edge'): Promise<TestNode> {
      const port = hq.app.addresses.quic!.port;
      const n = await startNode({ name, 'cascade-client': { server: `127.0.0.1:${port}`, ...cc } });
      nodes.push(n);
      return n;
    }
    async function stop(n: TestNode): Promise<void> {
      nodes.splice(nodes.indexOf(n), 1);
      await n.stop();
    }

    test('registers with a secret created through REST; status live in REST, GraphQL and subscription', async () => {
      const hq = await server({ autoregister: false });
      const created = await rest(hq, 'POST', '/api/cascade/clients', { name: 'edge-node-1', secret: 'unique-secret-key' });
      const id = (created.json.data as ClientJson).id;
      const sub = await subscribe(hq.url, ClientChangedDocument);
      try {
        const edge = await client(hq, { secret: 'unique-secret-key' });
        const ev = await sub.next((e) => e.clientChanged.kind === 'ONLINE' && e.clientChanged.client.id === id, 10_000);
        assert.equal(ev.clientChanged.client.ip, '127.0.0.1');
        const [c] = await clientsOf(hq);
        assert.deepEqual({ id: c!.id, name: c!.name, ip: c!.ip, online: c!.online }, { id, name: 'edge-node-1', ip: '127.0.0.1', online: true });
        const links = await gql(hq, ClientLinksDocument);
        const l = links.data!.clients[0]!;
        assert.equal(l.version, hq.app.services.node.version);
        assert.ok(l.connectedSince);
        await waitFor(async () => (await gql(hq, ClientLinksDocument)).data?.clients[0]?.rttMs != null, 5_000, 'rtt from heartbeats');
        const up = await waitFor(async () => {
          const u = await upstreamOf(edge);
          return u.state === 'ONLINE' ? u : null;
        }, 5_000, 'upstream online');
        assert.equal(up.clientId, id);
        assert.equal(up.clientName, 'edge-node-1');
        assert.equal(up.serverName, 'hq');
        assert.equal(up.serverFingerprint, hq.app.services.node.fingerprint);
        await stop(edge);
        await sub.next((e) => e.clientChanged.kind === 'OFFLINE' && e.clientChanged.client.id === id, 5_000);
        assert.equal((await clientsOf(hq))[0]!.online, false);
      } finally {
        await sub.close();
      }
      await stop(hq);
    });

    test('autoregister on: unknown secret makes a record, recognised again on reconnect', async () => {
      const hq = await server({ autoregister: true });
      const e1 = await client(hq, { secret: 'auto-secret-1' }, 'edge-auto');
      await waitFor(async () => (await clientsOf(hq)).find((c) => c.online), 10_000, 'autoregistered client online');
      const [rec] = await clientsOf(hq);
      assert.equal(rec!.name, 'edge-auto');
      await stop(e1);
      await waitFor(async () => (await clientsOf(hq)).every((c) => !c.online), 5_000, 'offline');
      // Same secret again (and a name clash from another secret): same record, new name made unique.
      const e2 = await client(hq, { secret: 'auto-secret-1' }, 'edge-auto');
      const e3 = await client(hq, { secret: 'auto-secret-2' }, 'edge-auto');
      await waitFor(async () => (await clientsOf(hq)).filter((c) => c.online).length === 2, 10_000, 'two online');
      const all = await clientsOf(hq);
      assert.equal(all.length, 2);
      assert.equal(all[0]!.id, rec!.id, 'the same secret maps to the same record');
      assert.deepEqual(all.map((c) => c.name).sort(), ['edge-auto', 'edge-auto-2']);
      await stop(e2);
      await stop(e3);
      await stop(hq);
    });

    test('autoregister off: unknown secret, wrong secret and no secret are refused with plain reasons', async () => {
      const hq = await server({ autoregister: false });
      await rest(hq, 'POST', '/api/cascade/clients', { name: 'known', secret: 'right-secret' });
      const rejected = await subscribe(hq.url, AuthRejectedDocument);
      try {
        const bad = await client(hq, { secret: 'wrong-secret' }, 'intruder');
        const up = await waitFor(async () => {
          const u = await upstreamOf(bad);
          return u.state === 'REJECTED' ? u : null;
        }, 10_000, 'rejected');
        assert.equal(up.lastError, 'authentication failed: unknown secret and autoregister is off');
        const ev = await rejected.next((e) => e.authRejected.name === 'intruder', 5_000);
        assert.equal(ev.authRejected.remoteAddress, '127.0.0.1');
        assert.equal(ev.authRejected.reason, 'authentication failed: unknown secret and autoregister is off');
        const none = await client(hq, {}, 'anonymous');
        const up2 = await waitFor(async () => {
          const u = await upstreamOf(none);
          return u.state === 'REJECTED' ? u : null;
        }, 10_000, 'rejected');
        // No secret configured: the node presents the key generated in its datadir, unknown here.
        assert.match(up2.lastError ?? '', /unknown secret and autoregister is off/);
        const list = await clientsOf(hq);
        assert.deepEqual(list.map((c) => [c.name, c.online]), [['known', false]], 'nothing registered, nothing online');
        await stop(bad);
        await stop(none);
      } finally {
        await rejected.close();
      }
      await stop(hq);
    });

    test('server verification: trust on first use, pin match, pin mismatch', async () => {
      const hq = await server({ autoregister: true });
      const fp = hq.app.services.node.fingerprint!;
      assert.match(fp, /^sha256:[0-9a-f]{64}$/);
      const tofu = await client(hq, { secret: 'tofu-secret-padded-key' }, 'tofu');
      await waitFor(async () => (await upstreamOf(tofu)).state === 'ONLINE', 10_000, 'tofu online');
      const stored = readFileSync(path.join(tofu.datadir, 'known-servers'), 'utf8');
      assert.ok(stored.includes(fp), 'the first fingerprint is stored in the datadir');
      await stop(tofu);

      const pinned = await client(hq, { secret: 'pin-secret-padded-key', fingerprint: fp }, 'pinned');
      await waitFor(async () => (await upstreamOf(pinned)).state === 'ONLINE', 10_000, 'pinned online');
      await stop(pinned);

      const wrong = `sha256:${'0'.repeat(64)}`;
      const mismatch = await client(hq, { secret: 'mismatch-secret', fingerprint: wrong }, 'mismatch');
      const up = await waitFor(async () => {
        const u = await upstreamOf(mismatch);
        return u.lastError ? u : null;
      }, 10_000, 'pin mismatch error');
      assert.notEqual(up.state, 'ONLINE');
      assert.match(up.lastError ?? '', /fingerprint/i);
      assert.equal((await clientsOf(hq)).find((c) => c.name === 'mismatch'), undefined, 'no secret reached the server');
      await stop(mismatch);
      await stop(hq);
    });

    test('a duplicate connection replaces the old one; deleting the record kicks the link', async () => {
      const hq = await server({ autoregister: false });
      const created = await rest(hq, 'POST', '/api/cascade/clients', { name: 'dup', secret: 'dup-secret-padded-key' });
      const id = (created.json.data as ClientJson).id;
      const a = await client(hq, { secret: 'dup-secret-padded-key' }, 'dup-a');
      await waitFor(async () => (await upstreamOf(a)).state === 'ONLINE', 10_000, 'a online');
      const b = await client(hq, { secret: 'dup-secret-padded-key' }, 'dup-b');
      await waitFor(async () => (await upstreamOf(b)).state === 'ONLINE', 10_000, 'b online');
      const upA = await waitFor(async () => {
        const u = await upstreamOf(a);
        return u.state !== 'ONLINE' ? u : null;
      }, 10_000, 'a replaced');
      assert.match(upA.lastError ?? '', /replaced/);
      const live = hq.app.services.cascade.link(id);
      assert.ok(live, 'one live link');
      await stop(a);
      assert.equal((await clientsOf(hq))[0]!.online, true, 'still online through b');

      const watch = await subscribe(b.url, UpstreamChangedDocument);
      try {
        const del = await rest(hq, 'DELETE', `/api/cascade/clients/${id}`);
        assert.equal(del.status, 200);
        const ev = await watch.next((e) => e.upstreamChanged.state === 'REJECTED', 5_000);
        assert.equal(ev.upstreamChanged.lastError, 'client record deleted');
      } finally {
        await watch.close();
      }
      assert.equal(hq.app.services.cascade.link(id), null);
      await stop(b);
      await stop(hq);
    });

    test("changing a client's secret closes its live link", async () => {
      const hq = await server({ autoregister: false });
      const created = await rest(hq, 'POST', '/api/cascade/clients', { name: 'rotated', secret: 'old-secret-padded-key' });
      const id = (created.json.data as ClientJson).id;
      const edge = await client(hq, { secret: 'old-secret-padded-key' }, 'rotated');
      await waitFor(async () => (await upstreamOf(edge)).state === 'ONLINE', 10_000, 'online');
      await rest(hq, 'PUT', `/api/cascade/clients/${id}`, { name: 'rotated-renamed' });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await upstreamOf(edge)).state, 'ONLINE', 'a rename keeps the link');
      await rest(hq, 'PUT', `/api/cascade/clients/${id}`, { secret: 'new-secret-padded-key' });
      const up = await waitFor(async () => {
        const u = await upstreamOf(edge);
        return u.state !== 'ONLINE' ? u : null;
      }, 5_000, 'kicked');
      assert.equal(up.lastError, 'client secret changed');
      await waitFor(async () => !(await clientsOf(hq))[0]!.online, 5_000, 'offline');
      await stop(edge);
      await stop(hq);
    });

    test('server restart: the client comes back online by itself with the same record id', async () => {
      const url = await dbUrl();
      const datadir = path.join(tmp, 'hq-restart');
      const first = await startNode(
        { name: 'hq', datadir, 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } },
        url === 'pglite://memory' ? `pglite://${path.join(datadir, 'db')}` : url,
      );
      const port = first.app.addresses.quic!.port;
      const edge = await client(first, { secret: 'restart-secret' }, 'restart-edge');
      const up1 = await waitFor(async () => {
        const u = await upstreamOf(edge);
        return u.state === 'ONLINE' ? u : null;
      }, 10_000, 'online');
      await first.app.stop();
      await waitFor(async () => (await upstreamOf(edge)).state !== 'ONLINE', 5_000, 'edge notices');
      const second = await startNode(
        { name: 'hq', datadir, 'cascade-server': { quic: { listenaddr: `127.0.0.1:${port}` } } },
        url === 'pglite://memory' ? `pglite://${path.join(datadir, 'db')}` : url,
      );
      nodes.push(second);
      const up2 = await waitFor(async () => {
        const u = await upstreamOf(edge);
        return u.state === 'ONLINE' ? u : null;
      }, 20_000, 'back online');
      assert.equal(up2.clientId, up1.clientId, 'same record id');
      const c = (await clientsOf(second)).find((x) => x.id === up1.clientId);
      assert.equal(c?.online, true);
      await stop(edge);
      await stop(second);
    });

    test('kill -9 of a client process: offline at the server within 3 s', async () => {
      const hq = await server({ autoregister: true });
      const port = hq.app.addresses.quic!.port;
      const dir = path.join(tmp, 'killed');
      const cfg = writeConfig(path.join(tmp, 'killed.yaml'), {
        name: 'killed-edge',
        datadir: dir,
        http: { listenaddr: '127.0.0.1:0' },
        rtmp: { listenaddr: '127.0.0.1:0' },
        database: { url: 'pglite://memory' },
        'cascade-client': { server: `127.0.0.1:${port}`, secret: 'killed-secret' },
      });
      const proc = await startProcessNode(cfg);
      try {
        await waitFor(async () => (await clientsOf(hq)).find((c) => c.name === 'killed-edge' && c.online), 15_000, 'online');
        const sub = await subscribe(hq.url, ClientChangedDocument);
        try {
          const t0 = Date.now();
          proc.child.kill('SIGKILL');
          await sub.next((e) => e.clientChanged.kind === 'OFFLINE' && e.clientChanged.client.name === 'killed-edge', 5_000);
          const took = Date.now() - t0;
          assert.ok(took <= 3_000, `offline after ${took} ms`);
        } finally {
          await sub.close();
        }
      } finally {
        await proc.stop('SIGKILL');
      }
      await stop(hq);
    });
  });
}
