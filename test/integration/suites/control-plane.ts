/**
 * The control-plane suite, run once on PGlite and once on PostgreSQL
 * (control-plane.pglite.test.ts / control-plane.postgres.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientChangedDocument,
  ClientsDocument,
  CreateClientDocument,
  DeleteClientDocument,
  NodeInfoDocument,
  UpdateClientDocument,
} from '../../generated/graphql.js';
import { gql, rest, startNode, type TestNode } from '../../helpers/node.js';
import { subscribe } from '../../helpers/ws-client.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function controlPlaneSuite(label: string, dbUrl: () => string): void {
  describe(`control plane on ${label}`, () => {
    let node: TestNode;
    before(async () => {
      node = await startNode({ 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } }, dbUrl());
    });
    after(async () => {
      await node?.stop();
    });

    async function snapshot(): Promise<unknown> {
      const r = await rest(node, 'GET', '/api/cascade/clients');
      assert.equal(r.status, 200);
      return r.json.data;
    }

    test('REST CRUD with the spec shapes', async () => {
      const empty = await rest(node, 'GET', '/api/cascade/clients');
      assert.deepEqual(empty, { status: 200, json: { code: 0, message: 'success', data: [] } });

      const created = await rest(node, 'POST', '/api/cascade/clients', { name: 'edge-node-1', secret: 'unique-secret-key' });
      assert.equal(created.status, 200);
      assert.equal(created.json.code, 0);
      assert.equal(created.json.message, 'success');
      const c = created.json.data as Record<string, unknown>;
      assert.deepEqual(Object.keys(c).sort(), ['created_time', 'id', 'ip', 'name', 'online', 'updated_time']);
      assert.equal(c.name, 'edge-node-1');
      assert.equal(c.ip, null);
      assert.equal(c.online, false);
      assert.match(String(c.created_time), ISO);
      assert.ok(!JSON.stringify(created.json).includes('unique-secret-key'), 'the secret never comes back');

      const list = await rest(node, 'GET', '/api/cascade/clients');
      assert.deepEqual(list.json.data, [c]);

      const updated = await rest(node, 'PUT', `/api/cascade/clients/${String(c.id)}`, { name: 'updated-node-name', secret: 'new-secret-key' });
      assert.equal(updated.status, 200);
      const u = updated.json.data as Record<string, unknown>;
      assert.equal(u.name, 'updated-node-name');
      assert.equal(u.id, c.id);
      assert.ok(Date.parse(String(u.updated_time)) >= Date.parse(String(c.updated_time)));

      const one = await rest(node, 'GET', `/api/cascade/clients/${String(c.id)}`);
      assert.deepEqual(one.json.data, u);

      const del = await rest(node, 'DELETE', `/api/cascade/clients/${String(c.id)}`);
      assert.equal(del.status, 200);
      assert.equal(del.json.code, 0);
      assert.deepEqual(await snapshot(), []);
    });

    test('GraphQL CRUD', async () => {
      const info = await gql(node, NodeInfoDocument);
      assert.equal(info.errors, undefined);
      assert.equal(info.data?.node.name, 'test-node');
      assert.deepEqual(info.data?.node.roles, ['MEDIA', 'CASCADE_SERVER']);

      const created = await gql(node, CreateClientDocument, { name: 'gql-edge', secret: 's3cret-gql-padded-key' });
      assert.equal(created.errors, undefined);
      const id = created.data!.createClient.id;
      assert.equal(created.data!.createClient.hasSecret, true);
      assert.equal(created.data!.createClient.online, false);

      const listed = await gql(node, ClientsDocument, { online: false });
      assert.deepEqual(listed.data?.clients.map((x) => x.name), ['gql-edge']);
      const online = await gql(node, ClientsDocument, { online: true });
      assert.deepEqual(online.data?.clients, []);

      const renamed = await gql(node, UpdateClientDocument, { id, name: 'gql-edge-2' });
      assert.equal(renamed.data?.updateClient.name, 'gql-edge-2');

      const dup = await gql(node, CreateClientDocument, { name: 'gql-edge-2', secret: 'other-padded-key' });
      assert.equal(dup.errors?.[0]?.extensions?.code, 'NAME_TAKEN');
      const missing = await gql(node, UpdateClientDocument, { id: 99999, name: 'x' });
      assert.equal(missing.errors?.[0]?.extensions?.code, 'NOT_FOUND');
      const invalid = await gql(node, CreateClientDocument, { name: '', secret: 'x-padded-key' });
      assert.equal(invalid.errors?.[0]?.extensions?.code, 'VALIDATION');

      const deleted = await gql(node, DeleteClientDocument, { id });
      assert.equal(deleted.data?.deleteClient.name, 'gql-edge-2');
      assert.deepEqual(await snapshot(), []);
    });

    test('a graphql-ws subscriber sees REST changes', async () => {
      const sub = await subscribe(node.url, ClientChangedDocument);
      try {
        const r = await rest(node, 'POST', '/api/cascade/clients', { name: 'watched', secret: 'watched-secret' });
        const id = (r.json.data as { id: number }).id;
        const ev = await sub.next((e) => e.clientChanged.kind === 'CREATED' && e.clientChanged.client.name === 'watched');
        assert.equal(ev.clientChanged.client.id, id);
        await rest(node, 'PUT', `/api/cascade/clients/${id}`, { name: 'watched-2' });
        await sub.next((e) => e.clientChanged.kind === 'UPDATED' && e.clientChanged.client.name === 'watched-2');
        await rest(node, 'DELETE', `/api/cascade/clients/${id}`);
        await sub.next((e) => e.clientChanged.kind === 'DELETED' && e.clientChanged.client.id === id);
      } finally {
        await sub.close();
      }
    });

    test('bad input: envelope, status, and nothing changes', async () => {
      const keep = await rest(node, 'POST', '/api/cascade/clients', { name: 'keeper', secret: 'keeper-secret' });
      const keepId = (keep.json.data as { id: number }).id;
      const before = await snapshot();
      const cases: [string, string, unknown, string | undefined, number][] = [
        ['POST', '/api/cascade/clients', undefined, '{"name": "x", ', 400],
        ['POST', '/api/cascade/clients', undefined, '', 400],
        ['POST', '/api/cascade/clients', { name: 42, secret: 'x-padded-key' }, undefined, 400],
        ['POST', '/api/cascade/clients', { name: 'no-secret' }, undefined, 400],
        ['POST', '/api/cascade/clients', { secret: 'no-name-padded-key' }, undefined, 400],
        ['POST', '/api/cascade/clients', { name: 'x', secret: 'y-padded-key', admin: true }, undefined, 400],
        ['POST', '/api/cascade/clients', [1, 2], undefined, 400],
        ['POST', '/api/cascade/clients', { name: 'keeper', secret: 'other-padded-key' }, undefined, 409],
        ['POST', '/api/cascade/clients', { name: 'shorty', secret: 'eleven-char' }, undefined, 400],
        ['PUT', '/api/cascade/clients/abc', { name: 'x' }, undefined, 400],
        ['PUT', '/api/cascade/clients/99999', { name: 'x' }, undefined, 404],
        ['PUT', `/api/cascade/clients/${keepId}`, { name: '' }, undefined, 400],
        ['PUT', `/api/cascade/clients/${keepId}`, { secret: 7 }, undefined, 400],
        ['DELETE', '/api/cascade/clients/-1', undefined, undefined, 400],
        ['DELETE', '/api/cascade/clients/99999', undefined, undefined, 404],
        ['GET', '/api/cascade/clients?online=maybe', undefined, undefined, 400],
        ['PATCH', '/api/cascade/clients', undefined, undefined, 405],
        ['GET', '/api/nothing-here', undefined, undefined, 404],
        ['POST', '/api/cascade/clients', undefined, JSON.stringify({ name: 'big', secret: 'x-padded-key'.repeat(1024 * 1024 + 10) }), 413],
      ];
      for (const [method, p, body, raw, status] of cases) {
        const r = await rest(node, method, p, body, raw);
        assert.equal(r.status, status, `${method} ${p} ${raw?.slice(0, 30) ?? JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.json)}`);
        assert.equal(r.json.code, status, 'envelope code');
        assert.equal(typeof r.json.message, 'string');
        assert.ok(r.json.message.length > 0 && r.json.message !== 'success');
        assert.equal(r.json.data, null);
        assert.ok(!/at .*\.ts:\d+/.test(r.json.message), 'no stack trace');
      }
      assert.deepEqual(await snapshot(), before);
      await rest(node, 'DELETE', `/api/cascade/clients/${keepId}`);
    });
  });
}
