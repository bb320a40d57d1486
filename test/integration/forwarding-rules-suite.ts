/**
 * Pull rules through GraphQL: added and removed at runtime, persisted in the
 * database (surviving a restart of the node), next to the rules of the YAML file.
 * Run on PGlite (a directory) and on PostgreSQL (forwarding-rules.*.test.ts).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AddPullRuleDocument, PullRulesDocument, RemovePullRuleDocument } from '../generated/graphql.js';
import { gql, startNode, waitFor, type TestNode } from '../helpers/node.js';
import { liveSynthetic, startHq, waitOnline } from './forwarding-helpers.js';

export function pullRulesSuite(label: string, dbUrl: () => Promise<string>): void {
  describe(`pull rules on ${label}`, () => {
    const nodes: TestNode[] = [];
    const cleanups: (() => unknown)[] = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
      for (const n of nodes.reverse()) await n.stop().catch(() => {});
    });

    test('added and removed at runtime, persisted across a restart, with the YAML rules alongside', async () => {
      const hq = await startHq(`rules-hq-${label}`);
      nodes.push(hq);
      const a = liveSynthetic(hq, 'live/ra');
      const b = liveSynthetic(hq, 'live/rb');
      cleanups.push(() => a.stop(), () => b.stop());
      const url = await dbUrl();
      const cfg = {
        name: `rules-edge-${label}`,
        'cascade-client': {
          server: `127.0.0.1:${hq.app.addresses.quic!.port}`,
          pull: [{ streampath: 'live/fromfile', pullurl: 'cascade://live/rb' }],
        },
      };
      let edge = await startNode(cfg, url);
      await waitOnline(edge);
      const added = await gql(edge, AddPullRuleDocument, { streamPath: 'live/copy-a', pullUrl: 'cascade://live/ra' });
      assert.equal(added.errors, undefined, JSON.stringify(added.errors));
      assert.equal(added.data!.addPullRule.source, 'API');
      await waitFor(() => edge.app.hub.has('live/copy-a') && edge.app.hub.has('live/fromfile'), 5_000, 'both rules pulled');
      const dup = await gql(edge, AddPullRuleDocument, { streamPath: 'live/copy-a', pullUrl: 'cascade://live/rb' });
      assert.equal(dup.errors?.[0]?.extensions?.code, 'CONFLICT');
      const bad = await gql(edge, AddPullRuleDocument, { streamPath: 'nope', pullUrl: 'rtmp://x/y' });
      assert.equal(bad.errors?.[0]?.extensions?.code, 'VALIDATION');
      const fromFile = await gql(edge, RemovePullRuleDocument, { streamPath: 'live/fromfile' });
      assert.equal(fromFile.errors?.[0]?.extensions?.code, 'CONFLICT', 'rules of the YAML file cannot be removed');

      // restart on the same database
      await edge.stop();
      edge = await startNode(cfg, url);
      nodes.push(edge);
      await waitOnline(edge);
      const rules = (await gql(edge, PullRulesDocument)).data!.pullRules;
      assert.deepEqual(
        rules.map((r) => [r.streamPath, r.pullUrl, r.source]),
        [
          ['live/fromfile', 'cascade://live/rb', 'CONFIG'],
          ['live/copy-a', 'cascade://live/ra', 'API'],
        ],
      );
      await waitFor(() => edge.app.hub.has('live/copy-a'), 5_000, 'the stored rule pulls again after the restart');

      const removed = await gql(edge, RemovePullRuleDocument, { streamPath: 'live/copy-a' });
      assert.equal(removed.errors, undefined, JSON.stringify(removed.errors));
      await waitFor(() => !edge.app.hub.has('live/copy-a'), 5_000, 'removing the rule stops its pull');
      assert.equal(edge.app.hub.has('live/fromfile'), true);
      const after = (await gql(edge, PullRulesDocument)).data!.pullRules;
      assert.deepEqual(after.map((r) => r.streamPath), ['live/fromfile']);
      const missing = await gql(edge, RemovePullRuleDocument, { streamPath: 'live/copy-a' });
      assert.equal(missing.errors?.[0]?.extensions?.code, 'NOT_FOUND');
    });
  });
}
