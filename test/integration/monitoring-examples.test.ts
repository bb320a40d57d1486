/**
 * examples/monitoring/: promtool accepts the scrape config and the alert rules, the
 * rules' own unit tests (alerts.test.yml) pass, and every metric the rules and the
 * Grafana dashboard use is one a real node exposes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startNode, type TestNode } from '../helpers/node.js';
import { requirePromtool } from '../helpers/requirements.js';

const DIR = fileURLToPath(new URL('../../examples/monitoring/', import.meta.url));

const nodes: TestNode[] = [];
after(async () => {
  for (const n of nodes.reverse()) await n.stop().catch(() => {});
});

function promtool(...args: string[]): string {
  const r = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

describe('examples/monitoring with promtool', requirePromtool(), () => {
  test('promtool check rules, check config and the rules unit tests pass', () => {
    assert.match(promtool('check', 'rules', 'alerts.yml'), /SUCCESS: \d+ rules found/);
    assert.match(promtool('check', 'config', 'prometheus.yml'), /is valid prometheus config file/);
    assert.match(promtool('test', 'rules', 'alerts.test.yml'), /SUCCESS/);
  });
});

describe('examples/monitoring against a real node', () => {
  test('every metric the alert rules and the dashboard use is exposed by the node', async () => {
    const node = await startNode({ name: 'mon-hq', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } });
    nodes.push(node);
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const names = /\b((?:cascade|stream|relay|nodejs|process)_[a-z0-9_]+)\b/g;
    const used = new Set<string>();
    for (const file of ['alerts.yml', 'grafana-dashboard.json']) {
      for (const m of readFileSync(DIR + file, 'utf8').matchAll(names)) used.add(m[1]!.replace(/_(bucket|count|sum)$/, ''));
    }
    assert.ok(used.size >= 10, `the examples use our metrics (${[...used].join(', ')})`);
    const missing = [...used].filter((n) => !exposed.has(n));
    assert.deepEqual(missing, [], 'metrics used by the examples but not exposed');
  });
});
