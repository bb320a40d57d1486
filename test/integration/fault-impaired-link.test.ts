/**
 * A cascade link over a lossy, slow path: 2 % loss and 50 ms delay each way
 * (RTT ≈ 100 ms), made by a userspace UDP relay on 127.0.0.1, so it runs on any
 * machine (fault-netns.test.ts does the same with veth + tc netem where the
 * kernel allows it). The link must stay up, its RTT must show the delay, and a
 * blackout longer than the heartbeat timeout must be noticed and recovered from.
 * (Streams over such a link — no stall over 1 s — belong to the forwarding tests.)
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { UpperLink } from '../../dataplane/cascade/index.js';
import { lightClient, waitState } from '../helpers/captured-node.js';
import { startUdpImpairment, type UdpImpairment } from '../helpers/netns.js';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';

describe('fault: impaired link (userspace relay, 2 % loss, 50 ms each way)', () => {
  let hq: TestNode | null = null;
  let relay: UdpImpairment | null = null;
  let edge: UpperLink | null = null;
  after(async () => {
    await edge?.stop();
    await relay?.close();
    await hq?.stop();
  });

  test('the link stays up with RTT ≈ 100 ms; a 4 s blackout is noticed and healed', async () => {
    hq = await startNode({ name: 'hq', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, autoregister: true } });
    const node = hq;
    const quic = node.app.addresses.quic!;
    relay = await startUdpImpairment({ target: quic, delayMs: 50, lossRate: 0.02 });
    edge = lightClient({ host: '127.0.0.1', port: relay.port }, node.app.services.node.fingerprint!, 'impaired-secret', 'impaired', {
      backoffInitialMs: 200,
      backoffMaxMs: 1_000,
    });
    const changes: string[] = [];
    edge.on('stateChanged', (s) => {
      changes.push(s.state);
    });
    const t0 = Date.now();
    edge.start();
    await waitState(edge, (s) => s.state === 'online', 15_000);
    const connectMs = Date.now() - t0;
    const c = edge;
    const id = c.status().clientId!;
    // 8 s of heartbeats over the lossy path.
    const rtts: number[] = [];
    const until = Date.now() + 8_000;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 1_000));
      const r = node.app.services.cascade.link(id)?.rttMs;
      if (typeof r === 'number') rtts.push(r);
    }
    assert.deepEqual(changes, ['connecting', 'online'], 'no drop under 2 % loss');
    assert.ok(relay.stats.dropped > 0, 'the relay dropped datagrams');
    const median = [...rtts].sort((x, y) => x - y)[Math.floor(rtts.length / 2)] ?? 0;
    assert.ok(median >= 95 && median < 400, `median RTT ${median} ms (samples ${rtts.join(',')})`);

    // Blackout: everything dropped for 4 s (heartbeat timeout is 2 s).
    relay.set({ blackhole: true });
    const cutAt = Date.now();
    await waitFor(() => node.app.services.cascade.link(id) === null, 6_000, 'HQ notices the dead link');
    const detectMs = Date.now() - cutAt;
    await new Promise((r) => setTimeout(r, Math.max(0, 4_000 - (Date.now() - cutAt))));
    relay.set({ blackhole: false });
    const healAt = Date.now();
    await waitState(c, (s) => s.state === 'online', 15_000);
    await waitFor(() => node.app.services.cascade.link(id) !== null, 5_000, 'HQ sees the link again');
    const healMs = Date.now() - healAt;
    process.stdout.write(
      `# impaired link: online after ${connectMs} ms, median RTT ${median} ms over ${rtts.length} samples, ${relay.stats.dropped}/${relay.stats.forwarded + relay.stats.dropped} datagrams dropped, blackout noticed by HQ after ${detectMs} ms, back online ${healMs} ms after the path returned\n`,
    );
  });
});
