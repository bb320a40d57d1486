/**
 * Publishing needs permission when configured, with ffmpeg as the encoder:
 * global and per-path keys (`?key=` in the stream name as ffmpeg sends it, or in the
 * app / tcUrl as OBS does), an HTTP hook that allows or refuses, and a path a
 * connected lower node announced that an anonymous local publisher cannot take.
 * Refused publishes are logged without the key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { probe, publishTestStream, type Publisher } from '../helpers/ffmpeg.js';
import { startCapturedNode, type CapturedNode } from '../helpers/captured-node.js';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';
import { requireFfmpeg } from '../helpers/requirements.js';

const gate = requireFfmpeg();
const GLOBAL_KEY = 'global-publish-key-1';
const CAM_KEY = 'camera-publish-key-2';
const WRONG_KEY = 'wrong-publish-key-3';

const rtmpUrl = (n: TestNode, p: string): string => `rtmp://127.0.0.1:${n.app.addresses.rtmp.port}/${p}`;

/** ffmpeg publishing `url` (extra args before the output); a refused one exits by itself. */
function publish(url: string, extra: string[] = []): Publisher {
  return publishTestStream(url, 20, extra.length > 0 ? { extraOutputArgs: extra } : {});
}

async function refused(p: Publisher): Promise<string> {
  const code = await Promise.race([p.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 15_000).unref())]);
  if (code === 'running') await p.stop();
  assert.notEqual(code, 'running', 'a refused publisher is closed');
  assert.notEqual(code, 0);
  return p.stderr();
}

async function accepted(node: TestNode, p: Publisher, path: string, play = false): Promise<void> {
  try {
    // With its video header: what the encoder sent while the publish was being authorized is kept.
    await waitFor(() => node.app.hub.get(path)?.video?.codec, 15_000, `${path} published (ffmpeg: ${p.stderr().slice(-300)})`);
    if (play) {
      const r = await probe(`${node.url}/${path}.flv`, 2);
      assert.equal(r.videoCodec, 'h264');
      assert.ok(r.videoFrames > 10, `frames decode (${r.videoFrames})`);
    }
  } finally {
    await p.stop();
  }
}

describe('RTMP publish keys', gate, () => {
  let node: CapturedNode;
  before(async () => {
    node = await startCapturedNode({ rtmp: { listenaddr: '127.0.0.1:0', publish: { keys: [GLOBAL_KEY], paths: { 'live/cam': CAM_KEY } } } });
  });
  after(async () => {
    await node?.stop();
  });

  test('no key or a wrong key: refused with Unauthorized and closed; nothing published; the key is not logged', async () => {
    for (const url of [rtmpUrl(node, 'live/cam'), rtmpUrl(node, `live/cam?key=${WRONG_KEY}`), rtmpUrl(node, 'live/other')]) {
      const stderr = await refused(publish(url));
      assert.match(stderr, /Unauthorized|needs a valid key/, url);
    }
    assert.equal(node.app.hub.list().length, 0);
    const lines = node.logs.filter((l) => l.msg === 'publish refused');
    assert.ok(lines.length >= 3);
    assert.doesNotMatch(node.logText(), new RegExp(WRONG_KEY));
  });

  test('the path\'s key or the global key in the name (ffmpeg), or in the app and tcUrl (OBS): published', async () => {
    await accepted(node, publish(rtmpUrl(node, `live/cam?key=${CAM_KEY}`)), 'live/cam', true);
    await accepted(node, publish(rtmpUrl(node, `live/other?key=${GLOBAL_KEY}`)), 'live/other');
    await accepted(
      node,
      publish(`rtmp://127.0.0.1:${node.app.addresses.rtmp.port}/live`, ['-rtmp_app', `live?key=${GLOBAL_KEY}`, '-rtmp_playpath', 'obs']),
      'live/obs',
    );
    // The camera's own key does not open other paths.
    await refused(publish(rtmpUrl(node, `live/third?key=${CAM_KEY}`)));
    for (const k of [GLOBAL_KEY, CAM_KEY]) {
      const leaks = node.logText().split('\n').filter((l) => l.includes(k));
      assert.deepEqual(leaks, [], `${k} in the log`);
    }
  });
});

describe('RTMP publish hook', gate, () => {
  let node: TestNode;
  let hook: http.Server;
  const asked: Record<string, unknown>[] = [];
  before(async () => {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const j = JSON.parse(body) as Record<string, unknown>;
        asked.push(j);
        if (j.path === 'live/slow') return; // never answers: the node gives up and refuses
        // A slow yes: the encoder's headers sent meanwhile must not be lost.
        const ok = j.name === 'allowed' && String(j.query).includes('token=t1');
        setTimeout(() => res.writeHead(ok ? 200 : 403).end(), ok ? 500 : 0);
      });
    });
    hook.listen(0, '127.0.0.1');
    await new Promise((r) => hook.once('listening', r));
    const port = (hook.address() as AddressInfo).port;
    node = await startNode({ rtmp: { listenaddr: '127.0.0.1:0', publish: { hook: `http://127.0.0.1:${port}/on_publish`, hooktimeout: 1_000 } } });
  });
  after(async () => {
    await node?.stop();
    hook.closeAllConnections();
    await new Promise((r) => hook.close(r));
  });

  test('2xx allows; anything else or no answer in time refuses; the hook gets path, ip and query', async () => {
    const p = publish(rtmpUrl(node, 'live/allowed?token=t1'));
    try {
      await waitFor(() => node.app.hub.get('live/allowed')?.video?.codec, 15_000, 'published with its video header');
    } finally {
      await p.stop();
    }
    const ok = asked.find((a) => a.path === 'live/allowed');
    assert.equal(ok?.ip, '127.0.0.1');
    assert.equal(ok?.app, 'live');
    assert.equal(ok?.query, 'token=t1');
    await refused(publish(rtmpUrl(node, 'live/denied')));
    await refused(publish(rtmpUrl(node, 'live/slow')));
    assert.ok(!node.app.hub.has('live/denied') && !node.app.hub.has('live/slow'));
  });
});

describe('a path a lower node announced', gate, () => {
  let upper: CapturedNode;
  let lower: TestNode;
  before(async () => {
    upper = await startCapturedNode({ name: 'upper', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } });
    lower = await startNode({ name: 'lower', 'cascade-client': { server: `127.0.0.1:${upper.app.addresses.quic!.port}`, secret: 'lower-secret-0123' } });
  });
  after(async () => {
    await lower?.stop();
    await upper?.stop();
  });

  test('cannot be squatted on the upper node by an anonymous publisher', async () => {
    const own = publish(rtmpUrl(lower, 'live/low'));
    try {
      await waitFor(() => lower.app.hub.has('live/low'), 15_000, 'published on the lower node');
      await waitFor(async () => JSON.stringify(await upper.app.services.forwarding.topology()).includes('live/low'), 15_000, 'announced to the upper node');
      const squat = await refused(publish(rtmpUrl(upper, 'live/low')));
      assert.match(squat, /BadName|reserved/);
      assert.ok(upper.logs.some((l) => l.msg === 'publish refused' && /reserved/.test(String(l.reason))));
    } finally {
      await own.stop();
    }
  });
});
