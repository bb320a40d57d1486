/**
 * Stalled players (HTTP-FLV, WS-FLV and RTMP clients that stop reading, so
 * the TCP window closes) must not grow memory without bound, must not delay a
 * healthy player, and must not slow the publisher: their queues stay bounded,
 * they skip, and they are dropped.
 *
 * The publisher is synthetic (a cascade-style publisher writing FLV tags
 * straight into the hub) at ~40 Mbit/s, so loopback socket buffers fill in
 * seconds; no ffmpeg needed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Amf0EcmaArray, createMediaTag, encodeAmf0, RtmpChunkEncoder, type Publisher } from '../../dataplane/media/index.js';
import { startMediaNode, waitFor, type MediaNode } from './media-helpers.js';

const PATH = 'live/big';
const FRAME_BYTES = 200 * 1024;
const MAX_QUEUE = 4 * 1024 * 1024;

let node: MediaNode;
let pub: Publisher;
let timer: NodeJS.Timeout | null = null;
let maxWriteMs = 0;

before(async () => {
  node = await startMediaNode({ subscriber: { maxQueueBytes: MAX_QUEUE, maxQueueDurationMs: 3_000, maxIdleMs: 4_000 } });
  pub = node.hub.publish(PATH, { protocol: 'synthetic', remote: 'test' });
  pub.write(createMediaTag('script', 0, encodeAmf0('onMetaData', new Amf0EcmaArray({ width: 1920, height: 1080, framerate: 25 }))));
  pub.write(createMediaTag('video', 0, Uint8Array.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x28, 0xff, 0xe0, 0])));
  pub.write(createMediaTag('audio', 0, Uint8Array.from([0xaf, 0, 0x12, 0x10])));
  const body = new Uint8Array(FRAME_BYTES).fill(0x55);
  const key = body.slice();
  key[0] = 0x17;
  key[1] = 1;
  const inter = body.slice();
  inter[0] = 0x27;
  inter[1] = 1;
  const audio = new Uint8Array(300).fill(0x21);
  audio[0] = 0xaf;
  audio[1] = 1;
  let n = 0;
  const t0 = Date.now();
  timer = setInterval(() => {
    const ts = Date.now() - t0;
    const w0 = performance.now();
    pub.write(createMediaTag('video', ts, n % 25 === 0 ? key : inter));
    pub.write(createMediaTag('audio', ts, audio));
    maxWriteMs = Math.max(maxWriteMs, performance.now() - w0);
    n++;
  }, 40);
});

after(async () => {
  if (timer) clearInterval(timer);
  await node?.close();
});

/** A minimal RTMP player: plain handshake, connect, createStream, play; then it stops reading. */
async function stalledRtmpPlayer(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  await once(s, 'connect');
  s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]));
  await new Promise<void>((resolve) => {
    let got = 0;
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got < 1 + 2 * 1536) return;
      s.off('data', onData);
      s.pause();
      resolve();
    };
    s.on('data', onData);
  });
  const enc = new RtmpChunkEncoder();
  const cmd = (streamId: number, ...v: Parameters<typeof encodeAmf0>): void => {
    s.write(enc.encode({ csid: 3, type: 20, streamId, timestamp: 0, payload: encodeAmf0(...v) }));
  };
  s.write(Buffer.alloc(1536)); // C2
  cmd(0, 'connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' });
  cmd(0, 'createStream', 2, null);
  cmd(1, 'play', 3, null, 'big'); // the server's first stream id is 1
  return s;
}

test('stalled HTTP-FLV, WS-FLV and RTMP players stay bounded, are dropped, and do not delay another player', async () => {
  const rss0 = process.memoryUsage().rss;
  // Stalled HTTP reader: sends the request and never reads.
  const stalled = net.connect(Number(new URL(node.httpUrl(PATH)).port), '127.0.0.1');
  await once(stalled, 'connect');
  stalled.write(`GET /${PATH}.flv HTTP/1.1\r\nHost: test\r\n\r\n`);
  stalled.pause();
  const stalledClosed = once(stalled, 'close');
  stalled.on('error', () => undefined);
  // Stalled WS-FLV player.
  const ws = new WebSocket(node.wsUrl(PATH));
  ws.on('error', () => undefined);
  await once(ws, 'open');
  ws.pause();
  const wsClosed = once(ws, 'close');
  // Stalled RTMP player.
  const rtmpPlayer = await stalledRtmpPlayer(node.rtmp.address.port);
  const rtmpClosed = once(rtmpPlayer, 'close');

  // Healthy reader: counts bytes and the longest gap between arrivals.
  let goodBytes = 0;
  let lastData = 0;
  let maxGap = 0;
  const goodReq = http.get(node.httpUrl(PATH), (res) => {
    res.on('data', (d: Buffer) => {
      const now = Date.now();
      if (lastData > 0) maxGap = Math.max(maxGap, now - lastData);
      lastData = now;
      goodBytes += d.length;
    });
  });
  goodReq.on('error', () => undefined);
  await waitFor(() => node.hub.subscribers(PATH).length === 4, 5_000, 'four players');

  let maxQueued = 0;
  let maxRss = rss0;
  const sampler = setInterval(() => {
    for (const s of node.hub.subscribers(PATH)) maxQueued = Math.max(maxQueued, s.queuedBytes);
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }, 50);
  try {
    const t0 = Date.now();
    await waitFor(() => node.hub.subscribers(PATH).length === 1, 25_000, 'the stalled players to be dropped');
    const droppedAfter = Date.now() - t0;
    // Their connections were closed by the server: reading again shows the end.
    stalled.resume();
    ws.resume();
    rtmpPlayer.resume();
    await Promise.race([
      Promise.all([stalledClosed, wsClosed, rtmpClosed]),
      new Promise((_, reject) => setTimeout(() => reject(new Error('stalled connections not closed')), 10_000).unref()),
    ]);
    const bytesAtDrop = goodBytes;
    await new Promise((r) => setTimeout(r, 1_000));
    const perSecondAfterDrop = goodBytes - bytesAtDrop;

    assert.ok(maxQueued <= MAX_QUEUE + FRAME_BYTES + 1024, `queue stayed bounded (max ${maxQueued} bytes)`);
    assert.ok(maxGap < 1_000, `healthy reader never waited 1 s (max gap ${maxGap} ms)`);
    assert.ok(perSecondAfterDrop > 2 * 1024 * 1024, `healthy reader still at full rate (${perSecondAfterDrop} B/s)`);
    assert.ok(maxWriteMs < 100, `publisher write never blocked (max ${maxWriteMs.toFixed(1)} ms)`);
    assert.ok(maxRss - rss0 < 256 * 1024 * 1024, `RSS grew by ${((maxRss - rss0) / 1048576).toFixed(0)} MiB`);
    assert.ok(droppedAfter < 25_000);
    const [remaining] = node.hub.subscribers(PATH);
    assert.equal(remaining?.protocol, 'http-flv');
  } finally {
    clearInterval(sampler);
    goodReq.destroy();
    stalled.destroy();
    ws.terminate();
    rtmpPlayer.destroy();
  }
});
