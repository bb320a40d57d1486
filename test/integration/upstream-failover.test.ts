/**
 * A lower node with two upper nodes (`cascade-client.servers`): HQ-A (priority 1, a
 * separate process reached through a UDP relay that can cut the link) and HQ-B
 * (priority 2, in-process). kill -9 of HQ-A: the lower node's pushed stream plays at
 * HQ-B, and a player at the lower node of a stream pulled from above stays connected
 * (measured gap, monotonic timestamps, no new codec header). HQ-A restarted: the link
 * moves back after `failback`. The relay toggled every 2 s: no flapping.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { FlvDemuxer, FlvTagType } from '../../dataplane/media/index.js';
import { publishTestStream, type Publisher } from '../helpers/ffmpeg.js';
import { UpstreamServersDocument, UpstreamSwitchesDocument } from '../generated/graphql.js';
import { gql, startNode, waitFor } from '../helpers/node.js';
import { subscribe } from '../helpers/ws-client.js';
import { startProcessNode, writeConfig, type ProcessNode, writeNodeConfig } from '../helpers/process-node.js';
import { requireFfmpeg } from '../helpers/requirements.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { liveSynthetic, startHq, stopAfterAll } from './forwarding-helpers.js';
import { freePort } from '../helpers/stream-faults.js';
import { startUdpImpairment } from '../helpers/netns.js';

const FAILBACK_MS = 3_000;
/** Published at both HQs: live/src is kept pulled by a pull rule, live/od is pulled on demand for a player. */
const SOURCES = ['live/src', 'live/od'];

interface SeenTag {
  type: number;
  ts: number;
  at: number;
  header: boolean;
  key: boolean;
}

/** An HTTP-FLV player that keeps every tag with its arrival time; `ended` resolves when the response ends. */
async function flvPlayer(url: string): Promise<{ tags: SeenTag[]; ended: Promise<string>; stop(): void }> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  assert.equal(res.status, 200, `play ${url}`);
  const tags: SeenTag[] = [];
  const demux = new FlvDemuxer();
  const reader = res.body!.getReader();
  const ended = (async () => {
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) return 'ended';
        demux.push(r.value, (t) => {
          const d = t.data;
          const header = (t.type === FlvTagType.Video && d[1] === 0) || (t.type === FlvTagType.Audio && (d[0]! >> 4) === 10 && d[1] === 0);
          tags.push({ type: t.type, ts: t.timestamp, at: performance.now(), header, key: t.type === FlvTagType.Video && d[0]! >> 4 === 1 });
        });
      }
    } catch (err) {
      return ac.signal.aborted ? 'stopped' : `failed: ${(err as Error).message}`;
    }
  })();
  return { tags, ended, stop: () => ac.abort() };
}

/** The largest wall-clock gap between two video frames after index `from`, and its place. */
function largestVideoGap(tags: readonly SeenTag[], from: number): { gapMs: number; tsGapMs: number; startedAt: number } {
  let gapMs = 0;
  let tsGapMs = 0;
  let startedAt = 0;
  let prev: SeenTag | null = null;
  for (const t of tags.slice(from)) {
    if (t.type !== FlvTagType.Video || t.header) continue;
    if (prev && t.at - prev.at > gapMs) {
      gapMs = t.at - prev.at;
      tsGapMs = t.ts - prev.ts;
      startedAt = prev.at;
    }
    prev = t;
  }
  return { gapMs: Math.round(gapMs), tsGapMs, startedAt };
}

function assertMonotonicVideo(tags: readonly SeenTag[]): void {
  let last = -1;
  for (const t of tags) {
    if (t.type !== FlvTagType.Video || t.header) continue;
    assert.ok(t.ts >= last, `video timestamps go back: ${last} → ${t.ts}`);
    last = t.ts;
  }
}

describe('several upper nodes: failover, players kept, failback without flapping', requireFfmpeg(), () => {
  const { keep, cleanups } = stopAfterAll();
  const tmp = tempDir('sc-failover-');
  const procs: ProcessNode[] = [];
  const ffs: Publisher[] = [];
  after(async () => {
    for (const f of ffs) await f.stop().catch(() => {});
    for (const p of procs) await p.stop('SIGKILL').catch(() => {});
    removeDir(tmp);
  });

  test('kill -9 of the current upper node, its return, and a link toggled every 2 s', async (t) => {
    const quicA = await freePort('udp');
    const cfgA = writeNodeConfig(tmp, 'fo-hq-a', {
      'cascade-server': { quic: { listenaddr: `127.0.0.1:${quicA}` } },
    });
    const startA = async (): Promise<ProcessNode> => {
      const a = await startProcessNode(cfgA);
      procs.push(a);
      const rtmp = await a.waitLog((l) => l.msg === 'rtmp server listening');
      // The same source as at HQ-B: same encoder settings, so the same codec headers.
      ffs.push(publishTestStream(SOURCES.map((p) => `rtmp://127.0.0.1:${String(rtmp.port)}/${p}`), 120, { size: '160x120', gop: 25 }));
      return a;
    };
    let hqA = await startA();
    const relay = await startUdpImpairment({ target: { host: '127.0.0.1', port: quicA }, delayMs: 0, lossRate: 0 });
    cleanups.push(() => relay.close());
    const hqB = keep(await startHq('fo-hq-b'));
    const pulledFrom = (): string | null => lower.app.services.forwarding.forwardingOf('live/src').peer;
    /** Video frames the lower player got from when `since` (performance.now()) on. */
    const framesSince = (since: number): number => player!.tags.filter((x) => x.type === FlvTagType.Video && !x.header && x.at > since).length;
    ffs.push(publishTestStream(SOURCES.map((p) => `rtmp://127.0.0.1:${hqB.app.addresses.rtmp.port}/${p}`), 120, { size: '160x120', gop: 25 }));
    const lower = keep(
      await startNode({
        name: 'fo-region',
        'cascade-client': {
          servers: [
            { server: `127.0.0.1:${hqB.app.addresses.quic!.port}`, priority: 2 },
            { server: `127.0.0.1:${relay.port}`, priority: 1 },
          ],
          failback: FAILBACK_MS,
          probeinterval: 300,
          trust: 'tofu',
          autopush: true,
          pull: [{ streampath: 'live/src', pullurl: 'cascade://live/src' }],
        },
      }),
    );
    const upstream = () => lower.app.services.cascade.upstream()!;
    let player: Awaited<ReturnType<typeof flvPlayer>> | undefined;
    const switches: { at: number; reason: string; to: string; tagIndex: number }[] = [];
    let lastSwitchAt: Date | null = null;
    const off = lower.app.services.events.on('upstreamChanged', (u) => {
      if (u.lastSwitch && u.lastSwitch.at !== lastSwitchAt) {
        lastSwitchAt = u.lastSwitch.at;
        switches.push({ at: performance.now(), reason: u.lastSwitch.reason, to: u.lastSwitch.to, tagIndex: player?.tags.length ?? 0 });
      }
    });
    cleanups.push(off);
    const aKey = `127.0.0.1:${relay.port}`;
    const bKey = `127.0.0.1:${hqB.app.addresses.quic!.port}`;
    await waitFor(() => upstream().state === 'online' && upstream().server === aKey, 30_000, 'linked to HQ-A');
    const pushed = liveSynthetic(lower, 'live/up');
    cleanups.push(() => pushed.stop());
    await waitFor(() => lower.app.hub.has('live/src'), 30_000, 'live/src pulled from HQ-A');
    player = await flvPlayer(`${lower.url}/live/src.flv`);
    cleanups.push(() => player.stop());
    await waitFor(() => player.tags.filter((x) => x.type === FlvTagType.Video && !x.header).length >= 25, 20_000, 'player at the lower node plays');
    // A player of a path the lower node does not have: pulled on demand from HQ-A.
    const odPlayer = await flvPlayer(`${lower.url}/live/od.flv`);
    cleanups.push(() => odPlayer.stop());
    const odFrames = (since: number): number => odPlayer.tags.filter((x) => x.type === FlvTagType.Video && !x.header && x.at > since).length;
    await waitFor(() => odFrames(0) >= 25, 20_000, 'on-demand player at the lower node plays');
    assert.equal(lower.app.services.forwarding.forwardingOf('live/od').onDemand, true);
    await waitFor(() => upstream().servers.find((s) => s.server === bKey)?.state === 'standby', 10_000, 'HQ-B probed: standby');

    // 1. kill -9 of HQ-A.
    const watch = await subscribe(lower.url, UpstreamSwitchesDocument);
    cleanups.push(() => watch.close());
    const before = player.tags.length;
    const odBefore = odPlayer.tags.length;
    const headersBefore = player.tags.filter((x) => x.header).length;
    const killedAt = performance.now();
    hqA.child.kill('SIGKILL');
    await hqA.exited;
    await waitFor(() => hqB.app.hub.has('live/up'), 15_000, 'pushed stream at HQ-B');
    const pushedAtB = performance.now() - killedAt;
    const playerB = await flvPlayer(`${hqB.url}/live/up.flv`);
    cleanups.push(() => playerB.stop());
    await waitFor(() => playerB.tags.some((x) => x.type === FlvTagType.Video && !x.header), 10_000, 'player at HQ-B gets video');
    const playingAtB = performance.now() - killedAt;
    await waitFor(() => pulledFrom() === 'fo-hq-b', 15_000, 'live/src pulled from HQ-B');
    const resumedAt = performance.now();
    await waitFor(() => framesSince(resumedAt) >= 25, 20_000, 'lower player goes on');
    await waitFor(() => lower.app.services.forwarding.forwardingOf('live/od').peer === 'fo-hq-b' && odFrames(resumedAt) >= 25, 20_000, 'on-demand pull rerouted to HQ-B, its player goes on');
    const odGap = largestVideoGap(odPlayer.tags, Math.max(0, odBefore - 2));
    assertMonotonicVideo(odPlayer.tags);
    const s1 = upstream();
    assert.equal(s1.server, bKey);
    const pushedSwitch = await watch.next((e) => e.upstreamChanged.lastSwitch?.to === bKey, 5_000);
    assert.match(pushedSwitch.upstreamChanged.lastSwitch!.reason, /^failover: /, 'upstreamChanged pushes the switch');
    const q = (await gql(lower, UpstreamServersDocument)).data!.upstream!;
    assert.deepEqual(
      q.servers.map((s) => [s.server, s.priority, s.state]),
      [
        [aKey, 1, 'DOWN'],
        [bKey, 2, 'CURRENT'],
      ],
    );
    assert.ok(q.servers[0]!.lastError && q.servers[0]!.lastErrorAt && q.servers[0]!.nextRetryAt, 'DOWN with its last error, when, and the next retry');
    assert.equal(q.lastSwitch?.from, aKey);
    assert.equal(q.lastSwitch?.to, bKey);
    assert.ok(q.lastSwitch!.tookMs >= 0 && q.lastSwitch!.at);
    assert.equal(s1.lastSwitch?.to, bKey);
    assert.match(s1.lastSwitch!.reason, /^failover: /);
    const a1 = s1.servers.find((s) => s.server === aKey)!;
    assert.equal(a1.state, 'down');
    assert.ok(a1.lastError && a1.nextRetryAt, 'down with its last error and next retry');
    const gap1 = largestVideoGap(player.tags, Math.max(0, before - 2));
    assert.equal(player.tags.filter((x) => x.header).length, headersBefore, 'no new codec header: same codec at both HQs');
    assertMonotonicVideo(player.tags);
    t.diagnostic(
      `kill -9 → pushed stream at HQ-B ${Math.round(pushedAtB)} ms, playing there ${Math.round(playingAtB)} ms (switch took ${s1.lastSwitch!.tookMs} ms after the loss was noticed); ` +
        `lower player gap ${gap1.gapMs} ms from ${Math.round(gap1.startedAt - killedAt)} ms after the kill (timestamps +${gap1.tsGapMs} ms), on-demand player gap ${odGap.gapMs} ms`,
    );
    assert.ok(pushedAtB <= 5_000, `the lower node's stream at HQ-B ${Math.round(pushedAtB)} ms after the kill (at most 5 s)`);

    // 2. HQ-A back: the link moves back after failback ms of health.
    const restartAt = performance.now();
    hqA = await startA();
    const aBack = await watch.next((e) => e.upstreamChanged.servers.some((s) => s.server === aKey && s.state === 'STANDBY'), 20_000);
    assert.equal(aBack.upstreamChanged.server, bKey, 'HQ-A answers probes again (pushed) while the link is still on HQ-B');
    await waitFor(() => upstream().server === aKey && upstream().state === 'online', 30_000, 'back on HQ-A');
    const before2 = switches.at(-1)!.tagIndex;
    const back = upstream().lastSwitch!;
    assert.match(back.reason, /^failback: /);
    await waitFor(() => pulledFrom() === 'fo-hq-a', 15_000, 'live/src pulled from HQ-A again');
    const resumed2At = performance.now();
    await waitFor(() => framesSince(resumed2At) >= 25, 20_000, 'lower player goes on after failback');
    const gap2 = largestVideoGap(player.tags, Math.max(0, before2 - 2));
    assertMonotonicVideo(player.tags);
    t.diagnostic(`HQ-A restarted → link back ${Math.round(performance.now() - restartAt)} ms later (failback ${FAILBACK_MS} ms); lower player gap ${gap2.gapMs} ms`);

    // 3. The relay to HQ-A toggled every 2 s for 10 s (cut, open, cut, open, cut): at most one switch per failback period.
    const from = switches.length;
    const toggleStart = performance.now();
    for (let i = 0; i < 5; i++) {
      relay.set({ blackhole: i % 2 === 0 });
      await new Promise((r) => setTimeout(r, 2_000));
    }
    relay.set({ blackhole: false });
    const during = switches.slice(from).filter((s) => s.at <= performance.now());
    for (let i = 1; i < during.length; i++) {
      assert.ok(during[i]!.at - during[i - 1]!.at >= FAILBACK_MS, `two switches ${Math.round(during[i]!.at - during[i - 1]!.at)} ms apart: ${JSON.stringify(during)}`);
    }
    t.diagnostic(`toggled 10 s: ${during.length} switch(es): ${during.map((s) => `${Math.round(s.at - toggleStart)} ms ${s.reason}`).join('; ')}`);
    await waitFor(() => upstream().server === aKey && upstream().state === 'online', 20_000, 'on HQ-A once the link is steady');
    for (const p of [player, odPlayer]) {
      assert.equal(await Promise.race([p.ended, new Promise((r) => setTimeout(() => r('open'), 10))]), 'open', 'the lower players stayed connected throughout');
    }
    assertMonotonicVideo(odPlayer.tags);
    assertMonotonicVideo(player.tags);
    const metrics = await (await fetch(`${lower.url}/metrics`)).text();
    const count = (reason: string): number => Number(new RegExp(`^cascade_upstream_switches_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    assert.equal(count('failover'), switches.filter((s) => s.reason.startsWith('failover')).length);
    assert.equal(count('failback'), switches.filter((s) => s.reason.startsWith('failback')).length);
    assert.ok(count('failover') >= 1 && count('failback') >= 1);
  });
});
