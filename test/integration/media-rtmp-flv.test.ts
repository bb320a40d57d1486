/**
 * End to end with ffmpeg: publish a generated H.264/AAC stream over RTMP and
 * play it over HTTP-FLV, WS-FLV and RTMP; refuse a duplicate publisher;
 * survive garbage on the RTMP port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { requireFfmpeg } from '../helpers/requirements.js';
import { decodeAmf0, FlvDemuxer, type FlvTag, type MediaTag } from '../../dataplane/media/index.js';
import {
  killAll,
  probeCount,
  probeFirstVideoFrame,
  publishArgs,
  run,
  start,
  startMediaNode,
  waitFor,
  type MediaNode,
} from './media-helpers.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const gate = requireFfmpeg();
const PATH = 'live/t';

function counts(streams: Array<{ codec_type: string; codec_name: string; nb_read_frames?: string }>): Record<string, { codec: string; frames: number }> {
  const out: Record<string, { codec: string; frames: number }> = {};
  for (const s of streams) out[s.codec_type] = { codec: s.codec_name, frames: Number(s.nb_read_frames ?? 0) };
  return out;
}

/** Count tags delivered to a direct hub subscriber during `ms`. */
async function tagsWithin(node: MediaNode, ms: number): Promise<{ video: number; audio: number }> {
  const sub = node.hub.subscribe(PATH, { protocol: 'test', remote: 'test' });
  assert.ok(sub, 'stream is live');
  const seen = { video: 0, audio: 0 };
  const timer = setTimeout(() => sub.close('test done'), ms);
  for await (const tag of sub as AsyncIterable<MediaTag>) {
    if (tag.type === 'video' && !tag.sequenceHeader) seen.video++;
    if (tag.type === 'audio' && !tag.sequenceHeader) seen.audio++;
  }
  clearTimeout(timer);
  return seen;
}

/** GET an HTTP-FLV URL for `ms` and demux what arrived. */
function fetchFlv(url: string, ms: number): Promise<{ status: number; headers: http.IncomingHttpHeaders; tags: FlvTag[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const demux = new FlvDemuxer();
      const tags: FlvTag[] = [];
      res.on('data', (d: Buffer) => {
        try {
          demux.push(d, (t) => tags.push(t));
        } catch (err) {
          reject(err as Error);
        }
      });
      setTimeout(() => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, tags });
      }, ms);
    });
    req.on('error', () => undefined);
  });
}

describe('media node with ffmpeg', gate, () => {
  let node: MediaNode;
  let tmp: string;

  before(async () => {
    tmp = tempDir('media-it-');
    node = await startMediaNode({ handshakeTimeoutMs: 1_000, idleTimeoutMs: 1_500 });
    start('ffmpeg', publishArgs(node.rtmpUrl(PATH), 30));
    await waitFor(() => node.hub.get(PATH)?.video?.width === 320, 15_000, 'the published stream');
    // Let a keyframe and some audio reach the GOP cache.
    await new Promise((r) => setTimeout(r, 500));
  });

  after(async () => {
    await killAll();
    await node?.close();
    if (tmp) removeDir(tmp);
  });

  describe('while publishing', { concurrency: true }, () => {
    test('HTTP-FLV plays with ffprobe: h264 + aac frames, first frame a keyframe', async () => {
      const url = node.httpUrl(PATH);
      const c = counts(await probeCount(url, 3));
      assert.equal(c.video?.codec, 'h264');
      assert.equal(c.audio?.codec, 'aac');
      assert.ok((c.video?.frames ?? 0) >= 40, `video frames ${c.video?.frames}`);
      assert.ok((c.audio?.frames ?? 0) >= 60, `audio frames ${c.audio?.frames}`);
      const first = await probeFirstVideoFrame(url);
      assert.ok(first.key_frame === 1 || first.pict_type === 'I', JSON.stringify(first));
    });

    test('HTTP-FLV bytes: headers, CORS, onMetaData first, PreviousTagSize, rebased timestamps', async () => {
      const r = await fetchFlv(node.httpUrl(PATH), 1_500);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'video/x-flv');
      assert.equal(r.headers['access-control-allow-origin'], '*');
      assert.equal(r.headers['transfer-encoding'], 'chunked');
      const [meta, ...rest] = r.tags;
      assert.ok(meta && meta.type === 18, 'first tag is a script tag');
      assert.equal(decodeAmf0(meta.data)[0], 'onMetaData');
      const video = rest.filter((t) => t.type === 9);
      const audio = rest.filter((t) => t.type === 8);
      assert.equal(video[0]?.data[0], 0x17, 'AVC sequence header (keyframe, AVC)');
      assert.equal(video[0]?.data[1], 0, 'AVC sequence header packet type');
      assert.equal(video[1]?.data[0], 0x17, 'then a keyframe');
      assert.ok((video[1]?.timestamp ?? 1e9) < 100, `first frame near 0, got ${video[1]?.timestamp}`);
      assert.equal(audio[0]?.data[1], 0, 'AAC sequence header');
      assert.ok(video.length > 20, `${video.length} video tags`);
    });

    test('WS-FLV plays: collected bytes decode with ffprobe', async () => {
      const ws = new WebSocket(node.wsUrl(PATH));
      const chunks: Buffer[] = [];
      ws.on('message', (d: Buffer) => chunks.push(d));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      await new Promise((r) => setTimeout(r, 3_000));
      const closed = new Promise((r) => ws.once('close', r));
      ws.close();
      await closed;
      const first = chunks[0];
      assert.ok(first && first.subarray(0, 3).toString() === 'FLV', 'first message is the FLV header');
      const file = join(tmp, 'ws.flv');
      writeFileSync(file, Buffer.concat(chunks));
      const c = counts(await probeCount(file, null));
      assert.equal(c.video?.codec, 'h264');
      assert.equal(c.audio?.codec, 'aac');
      assert.ok((c.video?.frames ?? 0) >= 40, `video frames ${c.video?.frames}`);
      const kf = await probeFirstVideoFrame(file);
      assert.ok(kf.key_frame === 1 || kf.pict_type === 'I', JSON.stringify(kf));
    });

    test('RTMP play with ffprobe: h264 + aac frames, first frame a keyframe', async () => {
      const url = node.rtmpUrl(PATH);
      const c = counts(await probeCount(url, 3));
      assert.equal(c.video?.codec, 'h264');
      assert.equal(c.audio?.codec, 'aac');
      assert.ok((c.video?.frames ?? 0) >= 40, `video frames ${c.video?.frames}`);
      const first = await probeFirstVideoFrame(url);
      assert.ok(first.key_frame === 1 || first.pict_type === 'I', JSON.stringify(first));
    });

    test('a duplicate publisher is refused while the first goes on', async () => {
      const before = node.hub.get(PATH);
      const r = await run('ffmpeg', publishArgs(node.rtmpUrl(PATH), 3), 10_000);
      assert.notEqual(r.code, 0, 'second publisher fails');
      assert.match(r.stderr, /already publishing|BadName|not permitted/i);
      const now = node.hub.get(PATH);
      assert.deepEqual(now?.publisher, before?.publisher);
      assert.equal(now?.startedAt.getTime(), before?.startedAt.getTime());
      const seen = await tagsWithin(node, 1_000);
      assert.ok(seen.video >= 15, `first stream still flows (${seen.video} video tags)`);
    });

    test('garbage, silent and half-open peers on the RTMP port are dropped; the stream is unharmed', async () => {
      const port = node.rtmp.address.port;
      const peer = (write: (s: net.Socket) => void): Promise<number> =>
        new Promise((resolve) => {
          const t0 = Date.now();
          const s = net.connect(port, '127.0.0.1', () => write(s));
          s.on('data', () => undefined);
          s.on('error', () => undefined);
          s.on('close', () => resolve(Date.now() - t0));
        });
      const chunkGarbage = (s: net.Socket): void => {
        s.write(Buffer.concat([Buffer.from([3]), randomBytes(1536)]));
        s.write(randomBytes(1536));
        for (let i = 0; i < 20; i++) s.write(randomBytes(4096));
      };
      const closedAfter = await Promise.all([
        peer((s) => s.write(randomBytes(5000))), // wrong version byte (almost surely)
        peer((s) => s.write(Buffer.concat([Buffer.from([0x42]), randomBytes(100)]))),
        peer(chunkGarbage),
        peer(() => undefined), // connects and sends nothing: handshake timeout
        peer((s) => s.write(Buffer.from([3]))), // half a handshake
        peer((s) => s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(2 * 1536)]))), // handshake, then silence: idle timeout
      ]);
      for (const ms of closedAfter) assert.ok(ms < 5_000, `peer closed after ${ms} ms`);
      assert.ok(node.hub.has(PATH), 'stream still published');
      const seen = await tagsWithin(node, 1_000);
      assert.ok(seen.video >= 15, `stream still flows (${seen.video} video tags)`);
    });

    test('unknown streams: RTMP StreamNotFound, HTTP 404 JSON, WS 404', async () => {
      const r = await run('ffprobe', ['-v', 'error', node.rtmpUrl('live/nope')], 10_000);
      assert.notEqual(r.code, 0);
      assert.equal(r.timedOut, false);
      const res = await fetch(node.httpUrl('live/nope'));
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), { code: 404, message: 'stream not found', data: null });
      const ws = new WebSocket(node.wsUrl('live/nope'));
      const status = await new Promise<number>((resolve) => {
        ws.once('unexpected-response', (_req, response) => resolve(response.statusCode ?? 0));
        ws.once('error', () => resolve(-1));
      });
      assert.equal(status, 404);
      const other = await fetch(node.httpUrl('live/nope').replace('.flv', '.mp4'));
      assert.equal(other.status, 404, 'non-FLV paths fall through to the caller');
    });

    test('stream info: codecs, size, bitrate, publisher, subscribers', async () => {
      const info = node.hub.list().find((s) => s.path === PATH);
      assert.ok(info);
      assert.deepEqual(
        { codec: info.video?.codec, w: info.video?.width, h: info.video?.height },
        { codec: 'h264', w: 320, h: 240 },
      );
      assert.equal(info.audio?.codec, 'aac');
      assert.equal(info.audio?.sampleRate, 44100);
      assert.equal(info.publisher.protocol, 'rtmp');
      assert.match(info.publisher.remote, /^127\.0\.0\.1:\d+$/);
      assert.ok(info.startedAt instanceof Date);
      await waitFor(() => (node.hub.get(PATH)?.bitrateKbps ?? 0) > 20, 5_000, 'a bitrate');
      await waitFor(() => (node.hub.get(PATH)?.video?.fps ?? 0) > 15, 5_000, 'an fps');
    });
  });

  test('unpublish ends HTTP-FLV players cleanly and emits unpublished', async () => {
    const ended = new Promise<number>((resolve, reject) => {
      http
        .get(node.httpUrl(PATH), (res) => {
          let bytes = 0;
          res.on('data', (d: Buffer) => (bytes += d.length));
          res.on('end', () => resolve(bytes));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    await waitFor(() => (node.hub.get(PATH)?.subscribers ?? 0) >= 1, 5_000, 'the player');
    const unpublished = new Promise<string>((resolve) => node.hub.once('unpublished', (p) => resolve(p)));
    await killAll(); // the ffmpeg publisher disconnects
    assert.equal(await unpublished, PATH);
    const bytes = await ended;
    assert.ok(bytes > 1000, `player got ${bytes} bytes before the clean end`);
    assert.equal(node.hub.has(PATH), false);
  });
});
