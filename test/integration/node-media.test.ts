/**
 * A whole node as a media server: ffmpeg publishes over RTMP; the node lists
 * the stream (REST, GraphQL, subscription) and plays it over HTTP-FLV and RTMP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamChangedDocument, StreamDocument, StreamsDocument } from '../generated/graphql.js';
import { publishTestStream, probe, type Publisher } from '../helpers/ffmpeg.js';
import { gql, rest, startNode, waitFor, type TestNode } from '../helpers/node.js';
import { requireFfmpeg } from '../helpers/requirements.js';
import { subscribe } from '../helpers/ws-client.js';

const gate = requireFfmpeg();

describe('node as a media server', gate, () => {
  let node: TestNode;
  let pub: Publisher | null = null;
  before(async () => {
    node = await startNode();
  });
  after(async () => {
    await pub?.stop();
    await node?.stop();
  });

  test('publish over RTMP; listed in REST and GraphQL; plays over HTTP-FLV and RTMP', async () => {
    const sub = await subscribe(node.url, StreamChangedDocument);
    try {
      const rtmp = `rtmp://127.0.0.1:${node.app.addresses.rtmp.port}/live/cam1`;
      pub = publishTestStream(rtmp, 30);
      const published = await sub.next((e) => e.streamChanged.kind === 'PUBLISHED' && e.streamChanged.path === 'live/cam1', 15_000);
      assert.equal(published.streamChanged.stream?.path, 'live/cam1');

      const listed = await waitFor(async () => {
        const r = await rest(node, 'GET', '/api/stream/list');
        const s = (r.json.data as { path: string; video: { width: number } | null; audio: unknown }[])[0];
        return s?.video && s.audio ? r : null;
      }, 10_000, 'stream codec details');
      assert.equal(listed.json.code, 0);
      const s = (listed.json.data as Record<string, unknown>[])[0]!;
      assert.equal(s.path, 'live/cam1');
      assert.deepEqual({ ...(s.video as object), fps: undefined }, { codec: 'h264', width: 320, height: 240, fps: undefined });
      assert.deepEqual(s.audio, { codec: 'aac', sample_rate: 44100, channels: 1 });
      assert.equal((s.publisher as { protocol: string }).protocol, 'rtmp');
      assert.match(String(s.started_time), /Z$/);

      const g = await gql(node, StreamsDocument);
      assert.equal(g.data?.streams[0]?.path, 'live/cam1');
      assert.equal(g.data?.streams[0]?.video?.codec, 'h264');
      const one = await gql(node, StreamDocument, { path: 'live/none' });
      assert.equal(one.data?.stream, null);

      const flv = await probe(`${node.url}/live/cam1.flv`, 3);
      assert.equal(flv.videoCodec, 'h264');
      assert.equal(flv.audioCodec, 'aac');
      assert.ok(flv.videoFrames >= 25, `HTTP-FLV decoded ${flv.videoFrames} video frames`);
      assert.ok(flv.firstVideoKey, 'HTTP-FLV starts on a keyframe');

      const r = await probe(rtmp, 3);
      assert.equal(r.videoCodec, 'h264');
      assert.ok(r.videoFrames >= 25, `RTMP decoded ${r.videoFrames} video frames`);
      assert.ok(r.firstVideoKey, 'RTMP starts on a keyframe');

      await sub.next((e) => e.streamChanged.kind === 'SUBSCRIBERS' && e.streamChanged.path === 'live/cam1', 10_000);

      await pub.stop();
      pub = null;
      await sub.next((e) => e.streamChanged.kind === 'UNPUBLISHED' && e.streamChanged.path === 'live/cam1', 10_000);
      const after = await rest(node, 'GET', '/api/stream/list');
      assert.deepEqual(after.json.data, []);
    } finally {
      await sub.close();
    }
  });

  test('an unknown FLV path is a 404 in the envelope', async () => {
    const r = await fetch(`${node.url}/live/missing.flv`);
    assert.equal(r.status, 404);
    const j = (await r.json()) as { code: number };
    assert.notEqual(j.code, 0);
  });
});
