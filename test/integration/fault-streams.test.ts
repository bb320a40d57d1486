/**
 * Streams under faults, with real node processes where a process dies:
 * - kill -9 of the HQ while 3 edge processes autopush a stream each: after the HQ
 *   restarts (same ports, same datadir) every edge reconnects and every stream is
 *   listed and plays at HQ again with no manual step; the time is measured.
 * - kill -9 of a pushing edge: HQ marks it offline within 3 s, its stream leaves
 *   HQ's list and an HTTP-FLV player at HQ sees its response end (no hang).
 * - a stream over a lossy, slow path (userspace relay: 2 % loss, 50 ms each way)
 *   keeps flowing: a reader at HQ sees no gap over 1 s between tags for 8 s.
 * The streams are synthetic (sequence-numbered FLV tags, 25 fps, 500 kbit/s, a
 * keyframe every second; published over RTMP to the edge processes): no encoder,
 * so the file stays cheap on a 2-core machine and needs no ffmpeg (no gate).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startUdpImpairment, type UdpImpairment } from '../helpers/netns.js';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';
import { startProcessNode, startProcessNodes, writeConfig, type ProcessNode } from '../helpers/process-node.js';
import {
  freePort,
  listClients,
  listStreams,
  maxGap,
  mediaTags,
  publishSyntheticRtmp,
  readFlv,
  syntheticFeed,
  type FlvReader,
  type RtmpSynthetic,
} from '../helpers/stream-faults.js';
import { sleep, waitOnline } from './forwarding-helpers.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const EDGES = 3;
/**
 * Bitrate of every synthetic stream, kbit/s: a low-quality live stream, so the
 * test has headroom on a loaded CI machine. Over the lossy path BBR kept 1-3 Mbit/s
 * real time in 7 of 9 runs, CUBIC in 2 of 9 (RELIABILITY.md, Streams under faults);
 * FAULT_STREAMS_KBPS=2000 reruns the file at another rate.
 */
const KBPS = Number(process.env.FAULT_STREAMS_KBPS ?? 500);
/** Congestion control of both ends of the impaired link (`quic.congestion`, default BBR); FAULT_STREAMS_CC=cubic compares. */
const CC = (process.env.FAULT_STREAMS_CC ?? 'bbr') as 'cubic' | 'reno' | 'bbr';
const edgeName = (i: number): string => `fs-edge-${i}`;
const streamOf = (i: number): string => `live/fs${i}`;
const log = (s: string): void => void process.stdout.write(`# ${s}\n`);

/** Every stream of `edges` listed at HQ as pushed in from its edge, and those edges online. */
async function allBack(hqUrl: string, edges: readonly number[]): Promise<boolean> {
  const [streams, clients] = await Promise.all([listStreams(hqUrl), listClients(hqUrl)]);
  return edges.every(
    (i) =>
      streams.some((s) => s.path === streamOf(i) && s.direction === 'PUSHED_IN' && s.origin === edgeName(i)) &&
      clients.some((c) => c.name === edgeName(i) && c.online),
  );
}

/** Reads `url` until `ms` of play arrived after the first keyframe; returns the reader (stopped). */
async function play(url: string, ms: number, timeoutMs = 10_000): Promise<FlvReader> {
  const r = await readFlv(url);
  assert.equal(r.status, 200, `HTTP-FLV ${url}`);
  try {
    await waitFor(
      () => {
        const m = mediaTags(r.tags).filter((t) => t.type === 9);
        const first = m[0];
        const last = m[m.length - 1];
        return first && last && last.timestamp - first.timestamp >= ms;
      },
      timeoutMs,
      `${ms} ms of video from ${url}`,
    );
  } finally {
    r.stop();
  }
  return r;
}

describe('streams under faults: kill -9 of HQ and edge processes', () => {
  const tmp = tempDir('sc-fault-streams-');
  const edges: ProcessNode[] = [];
  const pubs: RtmpSynthetic[] = [];
  const readers: FlvReader[] = [];
  let hq: ProcessNode | null = null;
  let hqCfg = '';
  let hqUrl = '';

  before(async () => {
    const [httpPort, rtmpPort, quicPort] = [await freePort('tcp'), await freePort('tcp'), await freePort('udp')];
    hqUrl = `http://127.0.0.1:${httpPort}`;
    hqCfg = writeConfig(path.join(tmp, 'hq.yaml'), {
      name: 'fs-hq',
      datadir: path.join(tmp, 'hq'),
      http: { listenaddr: `127.0.0.1:${httpPort}` },
      rtmp: { listenaddr: `127.0.0.1:${rtmpPort}` },
      log: { level: 'info' },
      'cascade-server': { quic: { listenaddr: `127.0.0.1:${quicPort}` } },
    });
    // HQ and edges start together (the edges retry their link until HQ listens): both cores busy.
    const started = await startProcessNodes([
      hqCfg,
      ...Array.from({ length: EDGES }, (_, i) =>
        writeConfig(path.join(tmp, `edge${i}.yaml`), {
          name: edgeName(i),
          datadir: path.join(tmp, `edge${i}`),
          http: { listenaddr: '127.0.0.1:0' },
          rtmp: { listenaddr: '127.0.0.1:0' },
          log: { level: 'info' },
          'cascade-client': { server: `127.0.0.1:${quicPort}`, autopush: true },
        }),
      ),
    ]);
    hq = started[0]!;
    edges.push(...started.slice(1));
    for (const [i, e] of edges.entries()) {
      const l = await e.waitLog((x) => x.msg === 'rtmp server listening');
      pubs.push(await publishSyntheticRtmp(Number(l.port), streamOf(i), { kbps: KBPS }));
    }
    const all = Array.from({ length: EDGES }, (_, i) => i);
    await waitFor(() => allBack(hqUrl, all), 60_000, 'every edge online and its stream at HQ');
  });

  after(async () => {
    for (const r of readers) r.stop();
    for (const p of pubs) p.stop();
    await Promise.all([...edges, ...(hq ? [hq] : [])].map((p) => p.stop('SIGKILL').catch(() => null)));
    removeDir(tmp);
  });

  test('kill -9 of the HQ while 3 edges push: after its restart every stream is listed and plays at HQ again', async () => {
    const all = Array.from({ length: EDGES }, (_, i) => i);
    const old = hq!;
    const killedAt = performance.now();
    old.child.kill('SIGKILL');
    await old.exited;
    const spawnAt = performance.now();
    hq = await startProcessNode(hqCfg);
    const listeningAt = performance.now();
    await waitFor(() => allBack(hqUrl, all), 90_000, 'every edge back online with its stream at HQ, no manual step');
    const backAt = performance.now();
    const plays: string[] = [];
    for (const i of all) {
      const r = await play(`${hqUrl}/${streamOf(i)}.flv`, 1_000);
      const video = mediaTags(r.tags).filter((t) => t.type === 9);
      assert.equal(video[0]?.keyframe, true, `first video tag of ${streamOf(i)} at HQ is a keyframe`);
      assert.ok(r.tags.some((t) => t.type === 9 && t.header), `${streamOf(i)}: video sequence header sent`);
      plays.push(`${streamOf(i)} ${video.length} video tags`);
    }
    const reconnects = hq.lines.filter((l) => l.msg === 'stream forwarding started (pushed in from lower node)').length;
    log(
      `HQ kill -9 with ${EDGES} pushing edges: restart to HTTP listening ${Math.round(listeningAt - spawnAt)} ms, ` +
        `HQ start to all ${EDGES} edges online with their streams listed ${Math.round(backAt - spawnAt)} ms ` +
        `(kill to back ${Math.round(backAt - killedAt)} ms); pushes accepted by the new HQ: ${reconnects}; played: ${plays.join(', ')}`,
    );
  });

  test('kill -9 of a pushing edge: offline at HQ within 3 s, its stream ends cleanly', async () => {
    const victim = EDGES - 1;
    const others = Array.from({ length: EDGES - 1 }, (_, i) => i);
    await waitFor(() => allBack(hqUrl, [...others, victim]), 60_000, 'all streams at HQ before the kill');
    const reader = await readFlv(`${hqUrl}/${streamOf(victim)}.flv`);
    readers.push(reader);
    assert.equal(reader.status, 200);
    await waitFor(() => mediaTags(reader.tags).length > 10, 5_000, 'the player at HQ receives the stream');
    let endedAt: number | null = null;
    let how: string | null = null;
    void reader.ended.then((h) => {
      endedAt = performance.now();
      how = h;
    });
    const e = edges[victim]!;
    const killedAt = performance.now();
    e.child.kill('SIGKILL');
    await e.exited;
    let offlineAt: number | null = null;
    let goneAt: number | null = null;
    await waitFor(
      async () => {
        const [streams, clients] = await Promise.all([listStreams(hqUrl), listClients(hqUrl)]);
        const now = performance.now();
        if (offlineAt === null && clients.some((c) => c.name === edgeName(victim) && !c.online)) offlineAt = now;
        if (goneAt === null && !streams.some((s) => s.path === streamOf(victim))) goneAt = now;
        return offlineAt !== null && goneAt !== null && endedAt !== null;
      },
      8_000,
      'edge offline, stream gone from the list and the player ended at HQ',
    );
    const ms = (t: number | null): number => Math.round((t ?? Infinity) - killedAt);
    log(
      `edge kill -9: HQ marked it offline after ${ms(offlineAt)} ms, stream left the list after ${ms(goneAt)} ms, ` +
        `HTTP-FLV player's response ended (${how}) after ${ms(endedAt)} ms`,
    );
    assert.ok(ms(offlineAt) <= 3_000, `offline within 3 s (${ms(offlineAt)} ms)`);
    assert.ok(ms(goneAt) <= 3_000, `stream gone within 3 s (${ms(goneAt)} ms)`);
    assert.ok(ms(endedAt) <= 3_000, `player's response ended within 3 s (${ms(endedAt)} ms)`);
    assert.equal(how, 'end', 'the response ends cleanly (end of body, not a reset)');
    // The other edges and their streams are untouched.
    assert.ok(await allBack(hqUrl, others), 'the other streams are still at HQ');
  });
});

describe('streams under faults: impaired link (userspace relay, 2 % loss, 50 ms each way)', () => {
  let hq: TestNode | null = null;
  let edge: TestNode | null = null;
  let relay: UdpImpairment | null = null;
  let reader: FlvReader | null = null;
  let feed: { stop(): void } | null = null;
  after(async () => {
    reader?.stop();
    feed?.stop();
    await edge?.stop();
    await relay?.close();
    await hq?.stop();
  });

  test('a stream pushed over the impaired link keeps flowing: no gap over 1 s at HQ for 8 s', async () => {
    hq = await startNode({ name: 'imp-hq', quic: { congestion: CC }, 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } });
    relay = await startUdpImpairment({ target: hq.app.addresses.quic!, delayMs: 50, lossRate: 0.02 });
    edge = await startNode({ name: 'imp-edge', quic: { congestion: CC }, 'cascade-client': { server: `127.0.0.1:${relay.port}`, autopush: true } });
    await waitOnline(edge, 15_000);
    const pub = edge.app.hub.publish('live/impaired', { protocol: 'test', remote: 'synthetic' });
    const f = syntheticFeed((t) => pub.write(t), { kbps: KBPS });
    feed = {
      stop() {
        f.stop();
        pub.close('stopped');
      },
    };
    const h = hq;
    await waitFor(() => h.app.hub.has('live/impaired'), 15_000, 'stream at HQ over the impaired link');
    reader = await readFlv(`${hq.url}/live/impaired.flv`);
    assert.equal(reader.status, 200);
    const r = reader;
    await waitFor(() => mediaTags(r.tags).length > 0, 5_000, 'first tag at HQ');
    const dropped0 = relay.stats.dropped;
    const sent0 = relay.stats.forwarded + relay.stats.dropped;
    const from = r.tags.length;
    const t0 = performance.now();
    await sleep(8_000);
    const t1 = performance.now();
    const window = mediaTags(r.tags.slice(from));
    // The window's edges count as arrivals: a stall at its start or end is a gap too.
    const gap = maxGap([t0, ...window.map((t) => t.at), t1]);
    const video = window.filter((t) => t.type === 9);
    const mediaSpan = video.length > 1 ? video[video.length - 1]!.timestamp - video[0]!.timestamp : 0;
    // End-to-end delay of each tag (written into the edge's hub → demuxed by the HTTP-FLV reader at HQ).
    const delays = window.flatMap((t) => {
      const at = t.seq === null ? undefined : f.sentAt(t.seq);
      return at === undefined ? [] : [t.at - at];
    });
    const sorted = [...delays].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)] ?? NaN;
    const maxDelay = sorted[sorted.length - 1] ?? NaN;
    const lastDelay = delays[delays.length - 1] ?? NaN;
    let missing = 0;
    for (let i = 1; i < window.length; i++) missing += (window[i]!.seq ?? 0) - (window[i - 1]!.seq ?? 0) - 1;
    const id = edge.app.services.cascade.upstream()?.clientId;
    const rtt = typeof id === 'number' ? hq.app.services.cascade.link(id)?.rttMs : undefined;
    const dropped = relay.stats.dropped - dropped0;
    const total = relay.stats.forwarded + relay.stats.dropped - sent0;
    // Falling behind shows as a delay that grows over the window, and stays high at its
    // end. A single retransmission stall near the window's end is neither (the burst
    // after it catches up); the gap check already bounds such a stall.
    const arrivalSpan = video.length > 1 ? video[video.length - 1]!.at - video[0]!.at : 0;
    const delayGrowth = arrivalSpan - mediaSpan;
    const tail = window.flatMap((t) => {
      const at = t.seq === null || t.at < t1 - 2_000 ? undefined : f.sentAt(t.seq);
      return at === undefined ? [] : [t.at - at];
    });
    const tailMin = tail.length > 0 ? Math.min(...tail) : NaN;
    const figures =
      `impaired link (${KBPS} kbit/s, ${CC}): ${window.length} media tags in 8 s at HQ (${video.length} video, ${mediaSpan} ms of media ` +
      `over ${Math.round(arrivalSpan)} ms of arrivals, ${missing} missing), max inter-arrival gap ${Math.round(gap)} ms, ` +
      `delay edge→HQ player p50 ${Math.round(p50)} / max ${Math.round(maxDelay)} / last ${Math.round(lastDelay)} / least in the last 2 s ${Math.round(tailMin)} ms, ` +
      `relay dropped ${dropped}/${total} datagrams in the window, link RTT ${typeof rtt === 'number' ? Math.round(rtt) : '?'} ms`;
    log(figures);
    assert.ok(dropped > 0, `the relay dropped datagrams (${figures})`);
    assert.ok(gap < 1_000, `no gap over 1 s between tags (${figures})`);
    // Not falling behind either (a lagging link can trickle tags without gaps, late).
    assert.ok(video.length >= 150, `video kept arriving (${figures})`);
    assert.ok(delayGrowth < 1_000, `media kept pace with the clock: the delay grew by ${Math.round(delayGrowth)} ms (${figures})`);
    assert.ok(tailMin < 1_000, `the player at HQ is not falling behind (${figures})`);
    assert.equal(missing, 0, `no tag lost or skipped: QUIC retransmits, no slow-consumer skip (${figures})`);
  });
});
