/**
 * A saturated node refuses new players at once and cleanly (HTTP-FLV 503,
 * WS-FLV 503 on the upgrade, RTMP NetStream.Play.Failed then close) while the
 * players it has keep playing; a freed slot is given to the next player.
 * Real node, real sockets; the publisher writes tags straight into the hub.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { Amf0EcmaArray, createMediaTag, encodeAmf0, type Publisher } from '../../dataplane/media/index.js';
import { RawRtmpClient, startMediaNode, waitFor, type MediaNode } from './media-helpers.js';

const PATH = 'live/full';
let node: MediaNode;
let pub: Publisher;
let timer: NodeJS.Timeout | null = null;

before(async () => {
  node = await startMediaNode({ maxPlayers: 2 });
  pub = node.hub.publish(PATH, { protocol: 'synthetic', remote: 'test' });
  pub.write(createMediaTag('script', 0, encodeAmf0('onMetaData', new Amf0EcmaArray({ width: 320, height: 240 }))));
  pub.write(createMediaTag('video', 0, Uint8Array.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x28, 0xff, 0xe0, 0])));
  let n = 0;
  const t0 = Date.now();
  timer = setInterval(() => {
    const body = new Uint8Array(2000).fill(0x55);
    body[0] = n % 25 === 0 ? 0x17 : 0x27;
    body[1] = 1;
    pub.write(createMediaTag('video', Date.now() - t0, body));
    n++;
  }, 40);
});

after(async () => {
  if (timer) clearInterval(timer);
  await node?.close();
});

/** An HTTP-FLV player counting the bytes it receives. */
function httpPlayer(): Promise<{ status: number; body: () => Buffer; bytes: () => number; close: () => void }> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const chunks: Buffer[] = [];
    const req = http.get(node.httpUrl(PATH), (res) => {
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (res.statusCode !== 200) chunks.push(d);
      });
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, body: () => Buffer.concat(chunks), bytes: () => bytes, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

test('past maxPlayers: HTTP-FLV and WS-FLV get 503 at once; players go on; a freed slot is reused', async () => {
  const a = await httpPlayer();
  const b = await httpPlayer();
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  await waitFor(() => a.bytes() > 0 && b.bytes() > 0, 5_000, 'the first two players receive media');

  const t0 = Date.now();
  const c = await httpPlayer();
  assert.equal(c.status, 503);
  await waitFor(() => c.body().length > 0, 2_000, 'the 503 body');
  assert.deepEqual(JSON.parse(c.body().toString()), { code: 503, message: 'server busy', data: null });
  assert.ok(Date.now() - t0 < 2_000, 'refused at once');

  const ws = new WebSocket(node.wsUrl(PATH));
  const wsStatus = await new Promise<number>((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => undefined);
  });
  assert.equal(wsStatus, 503);
  ws.terminate();

  // The two players keep receiving media after the refusals.
  const before = [a.bytes(), b.bytes()];
  await waitFor(() => a.bytes() > (before[0] as number) + 4_000 && b.bytes() > (before[1] as number) + 4_000, 5_000, 'players keep playing');
  assert.equal(node.hub.subscribers(PATH).length, 2);

  // A freed slot goes to the next player.
  a.close();
  await waitFor(() => node.flv.players === 1, 5_000, 'the slot is freed');
  const d = await httpPlayer();
  assert.equal(d.status, 200);
  await waitFor(() => d.bytes() > 0, 5_000, 'the new player receives media');
  b.close();
  d.close();
  await waitFor(() => node.flv.players === 0, 5_000, 'players gone');
});

test('RTMP: past maxPlayers the player gets NetStream.Play.Failed and the connection closes; the others go on', async () => {
  const players: RawRtmpClient[] = [];
  for (let i = 0; i < 2; i++) {
    const p = await RawRtmpClient.connect(node.rtmp.address.port);
    const id = await p.open('live');
    p.command(id, 'play', 3, null, 'full');
    await p.until(() => p.statusCodes().includes('NetStream.Play.Start'), 5_000, 'play start');
    players.push(p);
  }
  const media = (p: RawRtmpClient): number => p.messages.filter((m) => m.type === 9).length;
  await waitFor(() => players.every((p) => media(p) > 0), 5_000, 'RTMP players receive video');

  const refused = await RawRtmpClient.connect(node.rtmp.address.port);
  const id = await refused.open('live');
  refused.command(id, 'play', 3, null, 'full');
  await refused.until(() => refused.statusCodes().includes('NetStream.Play.Failed'), 5_000, 'play failed');
  await refused.closed;
  assert.equal(refused.messages.filter((m) => m.type === 9).length, 0, 'no media for the refused player');

  const counts = players.map(media);
  await waitFor(() => players.every((p, i) => media(p) > (counts[i] as number) + 5), 5_000, 'the players keep playing');
  for (const p of players) p.close();
});
