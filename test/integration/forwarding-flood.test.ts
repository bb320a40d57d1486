/**
 * Anonymous denial of service through on-demand pulls: players flooding a lower node
 * with requests for paths nobody has must not cut its link to the upper node, stop a
 * stream that is playing, or silence the API. A real two-node cascade on loopback.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import type { CascadeSessionInfo } from '../../dataplane/cascade/index.js';
import { rest, waitFor } from '../helpers/node.js';
import { startProcessNode, writeConfig, type ProcessNode, writeNodeConfig } from '../helpers/process-node.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { liveSynthetic, startHq, stopAfterAll } from './forwarding-helpers.js';

const { keep, cleanups } = stopAfterAll();

/** GET `url` with its own connection; resolves with the status (0 for a failed request) and drops the body. */
function getStatus(url: string, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

/** A player that keeps reading an HTTP-FLV stream and counts its bytes. */
function player(url: string): { bytes(): number; ended(): boolean; stop(): void } {
  let got = 0;
  let ended = false;
  const req = http.get(url, { agent: false }, (res) => {
    if (res.statusCode !== 200) ended = true;
    res.on('data', (c: Buffer) => (got += c.byteLength));
    res.on('end', () => (ended = true));
    res.on('error', () => (ended = true));
  });
  req.on('error', () => (ended = true));
  return { bytes: () => got, ended: () => ended, stop: () => req.destroy() };
}

/** Runs `count` tasks with at most `concurrency` at once. */
async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, concurrency) }, worker));
  return out;
}

describe('forwarding: on-demand flood', () => {
  const tmp = tempDir('sc-flood-');
  let edge: ProcessNode | null = null;
  after(async () => {
    await edge?.stop('SIGKILL');
    removeDir(tmp);
  });

  test('hundreds of players asking a lower node for missing paths leave its link, a playing stream and the API alone', async () => {
    const hq = keep(await startHq('flood-hq'));
    const src = liveSynthetic(hq, 'live/real');
    cleanups.push(() => src.stop());
    // The lower node runs in its own process, so it takes the players as fast as a real one.
    const cfg = writeNodeConfig(tmp, 'flood-edge', {
      database: { url: 'pglite://memory' },
      log: { level: 'info' },
      'cascade-client': { server: `127.0.0.1:${hq.app.addresses.quic!.port}` },
    });
    const lower = await startProcessNode(cfg);
    edge = lower;
    const edgeLink = async (): Promise<CascadeSessionInfo | null> => {
      for (const rec of await hq.app.services.clients.list()) {
        const l = hq.app.services.cascade.link(rec.id);
        if (l) return l;
      }
      return null;
    };
    const link = await waitFor(edgeLink, 30_000, 'the edge is linked');

    const watcher = player(`${lower.httpUrl}/live/real.flv`);
    cleanups.push(() => watcher.stop());
    await waitFor(() => watcher.bytes() > 20_000, 10_000, 'the real stream plays at the edge');

    const statuses = await pool(1000, 400, (i) => getStatus(`${lower.httpUrl}/live/missing-${i}.flv`));

    for (const s of statuses) assert.ok(s === 404 || s === 503, `a missing path is refused (got ${s})`);
    const now = await edgeLink();
    const lost = lower.lines.filter((l) => /too many|link|closed/i.test(String(l.msg)) && Number(l.level) >= 40).slice(0, 3).map((l) => [l.msg, l.reason ?? l.err]);
    assert.ok(now, `the edge is still linked (${JSON.stringify(lost)})`);
    assert.equal(now.connectedSince, link.connectedSince, 'the same session: the link never dropped');

    const mark = watcher.bytes();
    assert.equal(watcher.ended(), false, 'the playing stream was not cut');
    await waitFor(() => watcher.bytes() > mark + 20_000, 10_000, 'the playing stream keeps playing');

    for (const url of [lower.httpUrl, hq.url]) {
      const r = await rest({ url }, 'GET', '/api/stream/list');
      assert.equal(r.status, 200);
      assert.equal(r.json.code, 0);
    }
  });
});
