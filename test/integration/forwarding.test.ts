/**
 * Stream forwarding across the cascade with in-process nodes: autopush through one
 * and two hops (ffmpeg publish at the edge, play at HQ), tag payload hashes and
 * order, pull rules, on-demand pulls, loops refused.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MediaTag } from '../../dataplane/media/index.js';
import { probe, publishTestStream } from '../helpers/ffmpeg.js';
import { waitFor } from '../helpers/node.js';
import { requireFfmpeg } from '../helpers/requirements.js';
import { aacHeader, avcHeader, flvUrl, hashOf, rtmpUrl, seqOf, sleep, startHq, startLower, stopAfterAll, syntheticWriter } from './forwarding-helpers.js';

const { keep } = stopAfterAll();

describe('forwarding: tag integrity', () => {
  test('tags published at the edge arrive at HQ two hops up unaltered and in order', async () => {
    const hq = keep(await startHq('hash-hq'));
    const region = keep(await startLower(hq, 'hash-region', { autopush: true }, { server: true }));
    const edge = keep(await startLower(region, 'hash-edge', { autopush: true }));
    const pub = edge.app.hub.publish('live/hash', { protocol: 'test', remote: 'test' });
    pub.write(avcHeader());
    pub.write(aacHeader());
    // ~2.4 s of media in all: no slow-consumer skip is expected.
    const { sent, write } = syntheticWriter(pub);
    write(2);
    await waitFor(() => hq.app.hub.has('live/hash'), 10_000, 'stream at HQ');
    const sub = hq.app.hub.subscribe('live/hash', { protocol: 'test', remote: 'test' })!;
    const got: MediaTag[] = [];
    const reading = (async () => {
      for await (const t of sub) got.push(t);
    })();
    for (let i = 0; i < 60; i++) {
      write(20);
      await sleep(10);
    }
    const last = sent.length - 1; // the sequence number of the last tag written
    await waitFor(() => got.some((t) => seqOf(t) === last), 20_000, 'last tag at HQ');
    pub.close('done');
    await reading;
    const media = got.filter((t) => seqOf(t) !== null);
    assert.ok(got.some((t) => t.sequenceHeader && t.type === 'video'), 'video sequence header forwarded');
    assert.ok(got.some((t) => t.sequenceHeader && t.type === 'audio'), 'audio sequence header forwarded');
    const first = seqOf(media[0]!)!;
    const firstVideo = media.find((t) => t.type === 'video')!;
    assert.equal(firstVideo.keyframe, true, 'first video tag at HQ is a keyframe');
    const expected = sent.slice(first);
    assert.equal(media.length, expected.length, 'no tag lost, duplicated or added');
    for (let i = 0; i < expected.length; i++) {
      assert.equal(hashOf(media[i]!), hashOf(expected[i]!), `tag ${first + i} unaltered and in order`);
    }
    assert.equal(hq.app.hub.has('live/hash'), false, 'unpublish at the edge ends the copy at HQ');
  });
});

/** Whether a GET of `url` answers 200 (the body is not read). */
async function playable(url: string): Promise<boolean> {
  const ac = new AbortController();
  try {
    const res = await fetch(url, { signal: ac.signal });
    return res.status === 200;
  } finally {
    ac.abort();
  }
}

describe('forwarding: autopush with ffmpeg', requireFfmpeg(), () => {
  test('edge → HQ: published at the edge plays at HQ over HTTP-FLV and RTMP', async () => {
    const hq = keep(await startHq('ap-hq'));
    const edge = keep(await startLower(hq, 'ap-edge', { autopush: true }));
    const ff = publishTestStream(rtmpUrl(edge, 'live/two'), 30);
    try {
      await waitFor(() => hq.app.hub.has('live/two'), 15_000, 'stream at HQ');
      const info = hq.app.hub.get('live/two')!;
      assert.equal(info.publisher.protocol, 'cascade');
      assert.equal(info.publisher.remote, 'ap-edge');
      const [a, b] = await Promise.all([probe(flvUrl(hq, 'live/two'), 2), probe(rtmpUrl(hq, 'live/two'), 2)]);
      for (const r of [a, b]) {
        assert.equal(r.videoCodec, 'h264');
        assert.equal(r.audioCodec, 'aac');
        assert.ok(r.videoFrames > 10, `frames decode (${r.videoFrames})`);
        assert.equal(r.firstVideoKey, true, 'first video frame is a keyframe');
      }
    } finally {
      await ff.stop();
    }
    await waitFor(() => !hq.app.hub.has('live/two'), 10_000, 'copy at HQ ends with the publisher');
  });

  test('edge → region → HQ: plays at HQ two hops up', async () => {
    const hq = keep(await startHq('ap3-hq'));
    const region = keep(await startLower(hq, 'ap3-region', { autopush: true }, { server: true }));
    const edge = keep(await startLower(region, 'ap3-edge', { autopush: true }));
    const ff = publishTestStream(rtmpUrl(edge, 'live/three'), 30);
    try {
      await waitFor(() => hq.app.hub.has('live/three'), 15_000, 'stream at HQ');
      assert.equal(hq.app.hub.get('live/three')!.publisher.remote, 'ap3-region');
      assert.equal(region.app.hub.get('live/three')!.publisher.remote, 'ap3-edge');
      const [a, b] = await Promise.all([probe(flvUrl(hq, 'live/three'), 2), probe(rtmpUrl(hq, 'live/three'), 2)]);
      for (const r of [a, b]) {
        assert.equal(r.videoCodec, 'h264');
        assert.ok(r.videoFrames > 10, `frames decode (${r.videoFrames})`);
        assert.equal(r.firstVideoKey, true, 'first video frame is a keyframe');
      }
    } finally {
      await ff.stop();
    }
  });

  test('sibling on demand and a pull rule with ffmpeg: published at edge A, played at edge B (HTTP-FLV, RTMP) and pulled by rule at edge C', async () => {
    const grace = { forwarding: { ondemandgrace: 1000 } };
    const hq = keep(await startHq('ff-hq'));
    const region = keep(await startLower(hq, 'ff-region', {}, { server: true, extra: grace }));
    const a = keep(await startLower(region, 'ff-edge-a', {}));
    const b = keep(await startLower(region, 'ff-edge-b', {}, { extra: grace }));
    const c = keep(await startLower(region, 'ff-edge-c', { pull: [{ streampath: 'live/ruled', pullurl: 'cascade://live/ff' }] }));
    const ff = publishTestStream(rtmpUrl(a, 'live/ff'), 30);
    try {
      await waitFor(() => a.app.hub.has('live/ff'), 10_000, 'published at edge A');
      // Edge B's players go through the region: it must have heard edge A's ANNOUNCE
      // (until then they get 404, as a player asking for a stream before it exists anywhere would).
      await waitFor(async () => (await region.app.services.forwarding.topology()).children.some((n) => n.streams.includes('live/ff')), 5_000, 'announced to the region');
      await waitFor(() => playable(flvUrl(b, 'live/ff')), 10_000, 'edge B finds the stream');
      const [httpFlv, rtmp] = await Promise.all([probe(flvUrl(b, 'live/ff'), 2), probe(rtmpUrl(b, 'live/ff'), 2)]);
      for (const r of [httpFlv, rtmp]) {
        assert.equal(r.videoCodec, 'h264', `video at edge B (${r === httpFlv ? 'HTTP-FLV' : 'RTMP'}): ${JSON.stringify(r)}`);
        assert.ok(r.videoFrames > 10, `frames decode at edge B (${r.videoFrames})`);
        assert.equal(r.firstVideoKey, true, 'first video frame is a keyframe');
      }
      await waitFor(() => c.app.hub.has('live/ruled'), 10_000, 'pulled by rule at edge C');
      const ruled = await probe(flvUrl(c, 'live/ruled'), 2);
      assert.ok(ruled.videoFrames > 10);
      assert.equal(ruled.firstVideoKey, true);
    } finally {
      await ff.stop();
    }
  });
});
