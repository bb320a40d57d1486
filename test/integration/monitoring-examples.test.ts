/**
 * examples/monitoring/: promtool accepts the scrape config and the alert rules, the
 * rules' own unit tests (alerts.test.yml) pass, every metric the rules and the Grafana
 * dashboard use is one a real node exposes, and a real Prometheus scraping a real HQ
 * with that config and those rules fires "lower node offline" when a lower node goes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';
import { spawnTracked, stopProcess } from '../helpers/processes.js';
import { requirePrometheus, requirePromtool } from '../helpers/requirements.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { startHq, startLower } from './forwarding-helpers.js';

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

/** A TCP port free on 127.0.0.1 a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface AlertsAnswer {
  data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
}

describe('examples/monitoring with a real Prometheus', requirePrometheus(), () => {
  test('Prometheus scrapes a real HQ with the example config and rules; a lower node that goes away fires CascadeLowerNodeOffline', async () => {
    const hq = await startHq('prom-hq');
    nodes.push(hq);
    const edge = await startLower(hq, 'prom-edge');
    nodes.push(edge);
    const dir = tempDir('prometheus-');
    try {
      // The example files, with this HQ as the target, 1 s intervals, and the rule's
      // `for:` shortened (its 1 min default is checked by promtool's unit tests above).
      const config = parseYaml(readFileSync(path.join(DIR, 'prometheus.yml'), 'utf8')) as {
        global: Record<string, string>;
        rule_files: string[];
        scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
      };
      config.global = { scrape_interval: '1s', evaluation_interval: '1s' };
      config.rule_files = [path.join(dir, 'alerts.yml')];
      config.scrape_configs[0]!.static_configs = [{ targets: [`127.0.0.1:${hq.app.addresses.http.port}`] }];
      writeFileSync(path.join(dir, 'prometheus.yml'), stringifyYaml(config));
      const rules = parseYaml(readFileSync(path.join(DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; for?: string }> }> };
      const offline = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'CascadeLowerNodeOffline')!;
      assert.equal(offline.for, '1m', 'the example waits 1 minute');
      offline.for = '2s';
      writeFileSync(path.join(dir, 'alerts.yml'), stringifyYaml(rules));

      const port = await freePort();
      const api = `http://127.0.0.1:${port}/api/v1`;
      const prom = spawnTracked(
        'prometheus',
        [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      prom.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      try {
        const query = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
          const r = await fetch(`${api}/query?query=${encodeURIComponent(q)}`);
          return ((await r.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result;
        };
        const up = await waitFor(
          async () => {
            const r = await query('cascade_link_up{link="lower",peer="prom-edge"}').catch(() => []);
            return r.length === 1 ? r : null;
          },
          30_000,
          `Prometheus has scraped the HQ (${stderr})`,
        );
        assert.equal(up[0]!.value[1], '1');
        assert.equal(up[0]!.metric.job, 'stream-cascade');
        const alerts = async (): Promise<AlertsAnswer['data']['alerts']> => ((await (await fetch(`${api}/alerts`)).json()) as AlertsAnswer).data.alerts;
        assert.deepEqual((await alerts()).filter((a) => a.labels.alertname === 'CascadeLowerNodeOffline'), [], 'no alert while the link is up');

        await edge.stop();
        const firing = await waitFor(
          async () => (await alerts()).find((a) => a.labels.alertname === 'CascadeLowerNodeOffline' && a.state === 'firing'),
          30_000,
          'CascadeLowerNodeOffline firing',
        );
        assert.equal(firing.labels.peer, 'prom-edge');
        assert.equal(firing.labels.severity, 'warning');
      } finally {
        await stopProcess(prom);
      }
    } finally {
      removeDir(dir);
    }
  });
});
