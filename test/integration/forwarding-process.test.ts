/**
 * kill -9 of the region process mid-stream (edge → region → HQ, ffmpeg publishing
 * at the edge): HQ's copy ends; after the region is restarted the stream plays at
 * HQ again with no manual step.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { probe, publishTestStream } from '../helpers/ffmpeg.js';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';
import { startProcessNode, writeConfig, type ProcessNode, writeNodeConfig } from '../helpers/process-node.js';
import { requireFfmpeg } from '../helpers/requirements.js';
import { flvUrl, rtmpUrl, startHq, waitOnline } from './forwarding-helpers.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/stream-faults.js';

describe('forwarding: region killed', requireFfmpeg(), () => {
  const tmp = tempDir('sc-fwd-proc-');
  const nodes: TestNode[] = [];
  const procs: ProcessNode[] = [];
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL').catch(() => {});
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
    removeDir(tmp);
  });

  test('kill -9 of the region mid-stream: after its restart the stream plays at HQ again', async () => {
    const hq = await startHq('kill-hq');
    nodes.push(hq);
    const quicPort = await freePort('udp');
    const cfg = writeNodeConfig(tmp, 'kill-region', {
      'cascade-server': { quic: { listenaddr: `127.0.0.1:${quicPort}` } },
      'cascade-client': { server: `127.0.0.1:${hq.app.addresses.quic!.port}`, autopush: true },
    });
    let region = await startProcessNode(cfg);
    procs.push(region);
    const edge = await startNode({ name: 'kill-edge', 'cascade-client': { server: `127.0.0.1:${quicPort}`, autopush: true } });
    nodes.push(edge);
    await waitOnline(edge, 15_000);
    const ff = publishTestStream(rtmpUrl(edge, 'live/kill'), 120);
    try {
      await waitFor(() => hq.app.hub.has('live/kill'), 20_000, 'stream at HQ');
      const before = await probe(flvUrl(hq, 'live/kill'), 1);
      assert.ok(before.videoFrames > 5);
      region.child.kill('SIGKILL');
      await region.exited;
      await waitFor(() => !hq.app.hub.has('live/kill'), 6_000, "HQ's copy ends when the region dies");
      region = await startProcessNode(cfg);
      procs.push(region);
      await waitFor(() => hq.app.hub.has('live/kill'), 45_000, 'stream back at HQ with no manual step');
      const r = await probe(flvUrl(hq, 'live/kill'), 2);
      assert.equal(r.videoCodec, 'h264');
      assert.ok(r.videoFrames > 10, `frames decode (${r.videoFrames})`);
      assert.equal(r.firstVideoKey, true);
      await region.waitLog((l) => l.msg === 'stream forwarding started (pushed in from lower node)', 1_000);
    } finally {
      await ff.stop();
    }
  });
});
