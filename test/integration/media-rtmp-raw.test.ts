/**
 * RTMP at the protocol level with an in-process client (no ffmpeg): status
 * codes, query strings, window acknowledgements, Enhanced-RTMP (HEVC FourCC)
 * passthrough, aggregate messages, and unpublish notifications to players.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  Amf0EcmaArray,
  decodeAmf0,
  encodeAmf0,
  encodeFlvTag,
  FlvDemuxer,
  type FlvTag,
  type RtmpMessage,
} from '../../dataplane/media/index.js';
import { RawRtmpClient, startMediaNode, waitFor, type MediaNode } from './media-helpers.js';

let node: MediaNode;
const clients: RawRtmpClient[] = [];

before(async () => {
  node = await startMediaNode();
});

after(async () => {
  for (const c of clients) c.close();
  await node?.close();
});

async function client(): Promise<RawRtmpClient> {
  const c = await RawRtmpClient.connect(node.rtmp.address.port);
  clients.push(c);
  return c;
}

const u32 = (v: number): Uint8Array => Uint8Array.from([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
const hvc1 = [...Buffer.from('hvc1')];
const HEVC_START = Uint8Array.from([0x90, ...hvc1, 1, 2, 3, 4]); // ex-header, keyframe, SequenceStart
const HEVC_KEY = Uint8Array.from([0x91, ...hvc1, 0, 0, 0, ...new Array<number>(3000).fill(7)]); // CodedFrames
const HEVC_INTER = Uint8Array.from([0xa3, ...hvc1, ...new Array<number>(500).fill(8)]); // inter, CodedFramesX
const AAC_HEADER = Uint8Array.from([0xaf, 0, 0x12, 0x10]);

test('raw RTMP: publish (E-RTMP HEVC), play over RTMP and HTTP-FLV, BadName, StreamNotFound, unpublish notify', async () => {
  const pub = await client();
  const sid = await pub.open('live');
  pub.command(sid, 'releaseStream', 3, null, 'raw');
  pub.command(sid, 'FCPublish', 4, null, 'raw');
  pub.command(sid, 'publish', 5, null, 'raw?token=abc', 'live');
  await pub.until(() => pub.statusCodes().includes('NetStream.Publish.Start'), 5_000, 'Publish.Start');
  const connectResult = pub.commands().find((c) => c[0] === '_result' && c[1] === 1);
  assert.match(JSON.stringify(connectResult), /NetConnection\.Connect\.Success/);
  // Kept for the record, with credential values (key, token, …) redacted: it is logged.
  assert.equal(node.hub.get('live/raw')?.publisher.query, 'token=…');

  const media = (type: number, csid: number, timestamp: number, payload: Uint8Array): RtmpMessage => ({ csid, type, streamId: sid, timestamp, payload });
  pub.send({ csid: 2, type: 5, streamId: 0, timestamp: 0, payload: u32(1_000) }); // our window: 1000 bytes
  pub.send(media(18, 5, 0, encodeAmf0('@setDataFrame', 'onMetaData', new Amf0EcmaArray({ width: 1280, height: 720, framerate: 30 }))));
  pub.send(media(9, 6, 0, HEVC_START));
  pub.send(media(8, 4, 0, AAC_HEADER));
  pub.send(media(9, 6, 0, HEVC_KEY));
  pub.send(media(9, 6, 33, HEVC_INTER));
  await waitFor(() => node.hub.get('live/raw')?.video?.codec === 'hevc', 5_000, 'hevc stream info');
  const info = node.hub.get('live/raw');
  assert.deepEqual([info?.video?.width, info?.video?.height], [1280, 720]);
  await pub.until(() => pub.messages.some((m) => m.type === 3), 5_000, 'an acknowledgement');

  // RTMP player: metadata, headers, GOP.
  const player = await client();
  const psid = await player.open('live');
  player.command(psid, 'play', 3, null, 'raw');
  await player.until(() => player.messages.filter((m) => m.type === 9).length >= 3, 5_000, 'GOP over RTMP');
  assert.deepEqual(player.statusCodes().slice(0, 2), ['NetStream.Play.Reset', 'NetStream.Play.Start']);
  const video = player.messages.filter((m) => m.type === 9);
  assert.deepEqual(video.map((m) => m.payload), [HEVC_START, HEVC_KEY, HEVC_INTER]);
  assert.deepEqual(video.map((m) => m.streamId), [psid, psid, psid]);
  const meta = player.messages.find((m) => m.type === 18 && decodeAmf0(m.payload)[0] === 'onMetaData');
  assert.ok(meta, 'onMetaData data message');

  // Aggregate message: two FLV-shaped audio tags.
  const agg = Buffer.concat([encodeFlvTag(8, 100, Uint8Array.from([0xaf, 1, 1])), encodeFlvTag(8, 120, Uint8Array.from([0xaf, 1, 2]))]);
  pub.send(media(22, 4, 100, agg));
  await player.until(() => player.messages.filter((m) => m.type === 8).length >= 3, 5_000, 'aggregate audio');
  const audio = player.messages.filter((m) => m.type === 8).slice(1);
  assert.deepEqual(audio.map((m) => [...m.payload]), [[0xaf, 1, 1], [0xaf, 1, 2]]);
  assert.equal((audio[1]?.timestamp ?? 0) - (audio[0]?.timestamp ?? 0), 20);

  // HTTP-FLV carries the E-RTMP tags unchanged.
  const tags = await new Promise<FlvTag[]>((resolve, reject) => {
    const got: FlvTag[] = [];
    const demux = new FlvDemuxer();
    const req = http.get(node.httpUrl('live/raw'), (res) => {
      res.on('data', (d: Buffer) => {
        demux.push(d, (t) => got.push(t));
        if (got.filter((t) => t.type === 9).length >= 3) {
          req.destroy();
          resolve(got);
        }
      });
    });
    req.on('error', () => undefined);
    setTimeout(() => reject(new Error('HTTP-FLV timed out')), 5_000).unref();
  });
  assert.equal(decodeAmf0(tags[0]?.data ?? new Uint8Array())[0], 'onMetaData');
  assert.deepEqual(tags.filter((t) => t.type === 9).map((t) => t.data), [HEVC_START, HEVC_KEY, HEVC_INTER]);

  // A second publisher: BadName; the first is untouched.
  const dup = await client();
  const dsid = await dup.open('live');
  dup.command(dsid, 'publish', 3, null, 'raw', 'live');
  await dup.until(() => dup.statusCodes().includes('NetStream.Publish.BadName'), 5_000, 'BadName');
  // Kept for the record, with credential values (key, token, …) redacted: it is logged.
  assert.equal(node.hub.get('live/raw')?.publisher.query, 'token=…');

  // Play of a missing stream: StreamNotFound.
  const lost = await client();
  const lsid = await lost.open('live');
  lost.command(lsid, 'play', 3, null, 'missing');
  await lost.until(() => lost.statusCodes().includes('NetStream.Play.StreamNotFound'), 5_000, 'StreamNotFound');

  // Unpublish: the player is told and its connection ends.
  pub.command(0, 'FCUnpublish', 6, null, 'raw');
  pub.command(0, 'deleteStream', 7, null, sid);
  await player.until(() => player.statusCodes().includes('NetStream.Play.UnpublishNotify'), 5_000, 'UnpublishNotify');
  await Promise.race([player.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('player not closed')), 5_000).unref())]);
  await pub.until(() => pub.statusCodes().includes('NetStream.Unpublish.Success'), 5_000, 'Unpublish.Success');
  assert.equal(node.hub.has('live/raw'), false);
});
