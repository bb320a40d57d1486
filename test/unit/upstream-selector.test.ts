/** The choice of upper node among several: preference, spread, failover, failback without flapping. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { preferenceOrder, UpstreamSelector } from '../../dataplane/cascade/link/upstream-selector.js';

const NO_JITTER = { initialMs: 500, maxMs: 8_000, jitter: 0 };
const two = [
  { key: 'hq-b:1', priority: 2 },
  { key: 'hq-a:1', priority: 1 },
];

describe('preference order', () => {
  test('lower priority first, whatever the order in the config', () => {
    assert.deepEqual(preferenceOrder('edge-1', two).map((s) => s.key), ['hq-a:1', 'hq-b:1']);
  });

  test('equal priorities: 12 lower nodes over 3 servers spread like a fair draw; a failure moves only the failed server\'s nodes', () => {
    const servers = ['10.0.0.1:44944', '10.0.0.2:44944', '10.0.0.3:44944'].map((key) => ({ key, priority: 1 }));
    const first = (name: string, from = servers): string => preferenceOrder(name, from)[0]!.key;
    // Many fleets of 12 nodes: each server gets 4 on average, and a fleet within 4 ± 1
    // as often as a fair random draw gives it (about 38 %: hashing alone cannot do better).
    let total = 0;
    let within = 0;
    const fleets = 3_000;
    for (let f = 0; f < fleets; f++) {
      const counts = new Map<string, number>();
      for (let i = 0; i < 12; i++) {
        const k = first(`fleet-${f}-region-${i}`);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      total += counts.get(servers[0]!.key) ?? 0;
      if (servers.every((s) => Math.abs((counts.get(s.key) ?? 0) - 4) <= 1)) within++;
    }
    assert.ok(Math.abs(total / fleets - 4) < 0.15, `mean per server ${total / fleets}`);
    assert.ok(Math.abs(within / fleets - 0.38) < 0.05, `fleets within 4 ± 1: ${within / fleets}`);
    // Removing one server moves exactly its own nodes.
    const withoutB = servers.filter((s) => s !== servers[1]);
    for (let i = 0; i < 200; i++) {
      const n = `region-${i}`;
      if (first(n) !== servers[1]!.key) assert.equal(first(n, withoutB), first(n), `${n} must not move`);
    }
  });

  test('the order is a permutation, stable for a node, and independent of the config order', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 }), (node, keys) => {
        const servers = keys.map((key, i) => ({ key, priority: i % 2 }));
        const a = preferenceOrder(node, servers).map((s) => s.key);
        const b = preferenceOrder(node, [...servers].reverse()).map((s) => s.key);
        assert.deepEqual(a, b);
        assert.deepEqual([...a].sort(), [...keys].sort());
        const prios = preferenceOrder(node, servers).map((s) => s.priority);
        assert.deepEqual(prios, [...prios].sort((x, y) => x - y));
      }),
    );
  });
});

describe('UpstreamSelector', () => {
  test('failover to the next server at once; a failed server waits out its backoff', () => {
    const s = new UpstreamSelector('edge-1', two, { failbackMs: 5_000, backoff: NO_JITTER });
    assert.deepEqual(s.next(0), { key: 'hq-a:1' });
    s.up('hq-a:1', 0);
    s.down('hq-a:1', 1_000, 'heartbeat timeout');
    assert.deepEqual(s.next(1_000), { key: 'hq-b:1' });
    s.down('hq-b:1', 1_100, 'connect failed');
    assert.deepEqual(s.next(1_200), { waitUntil: 1_500 });
    assert.deepEqual(s.next(1_500), { key: 'hq-a:1' });
    const a = s.list()[0]!;
    assert.equal(a.lastError, 'heartbeat timeout');
    assert.equal(a.health, 'down');
    s.down('hq-a:1', 1_500, 'connect failed');
    assert.equal(s.list()[0]!.retryAt, 2_500, 'second failure in a row: twice the delay');
    s.down('hq-a:1', 2_500, 'refused', 30_000);
    assert.equal(s.list()[0]!.retryAt, 32_500, 'a refusal waits at least its own delay');
  });

  test('failback only after failbackMs of health without a break, and failbackMs after the last switch', () => {
    const s = new UpstreamSelector('edge-1', two, { failbackMs: 5_000, backoff: NO_JITTER });
    s.down('hq-a:1', 0, 'gone');
    s.up('hq-b:1', 10);
    s.switched(10);
    s.up('hq-a:1', 1_000);
    assert.equal(s.failbackTarget('hq-b:1', 5_999), null);
    assert.equal(s.failbackDueAt('hq-b:1'), 6_000);
    assert.equal(s.failbackTarget('hq-b:1', 6_000), 'hq-a:1');
    assert.equal(s.failbackTarget('hq-a:1', 6_000), null, 'nothing better than the best');
    s.down('hq-a:1', 6_001, 'gone again');
    s.up('hq-a:1', 6_500);
    assert.equal(s.failbackTarget('hq-b:1', 11_000), null, 'a break restarts the clock');
    assert.equal(s.failbackTarget('hq-b:1', 11_500), 'hq-a:1');
  });

  test('failback 0: never move back', () => {
    const s = new UpstreamSelector('edge-1', two, { failbackMs: 0 });
    s.up('hq-a:1', 0);
    assert.equal(s.failbackTarget('hq-b:1', 1e9), null);
    assert.equal(s.failbackDueAt('hq-b:1'), null);
  });

  test('a link toggled every 2 s never causes more than one switch per failback period', () => {
    const failbackMs = 5_000;
    const s = new UpstreamSelector('edge-1', two, { failbackMs, backoff: NO_JITTER });
    let current = 'hq-a:1';
    s.up(current, 0);
    s.up('hq-b:1', 0);
    const switches: number[] = [];
    for (let t = 0; t <= 60_000; t += 100) {
      const aUp = Math.floor(t / 2_000) % 2 === 0;
      if (aUp) s.up('hq-a:1', t);
      else if (s.list().find((r) => r.key === 'hq-a:1')!.health !== 'down') s.down('hq-a:1', t, 'toggled');
      if (current === 'hq-a:1' && !aUp) {
        const n = s.next(t);
        if ('key' in n && n.key !== current) {
          current = n.key;
          s.switched(t);
          switches.push(t);
        }
      }
      const back = s.failbackTarget(current, t);
      if (back) {
        current = back;
        s.switched(t);
        switches.push(t);
      }
    }
    assert.deepEqual(switches, [2_000], 'one failover, no failback to a server that is never healthy for 5 s');
    assert.equal(current, 'hq-b:1', 'stays on the steady server while the better one flaps');
  });
});
