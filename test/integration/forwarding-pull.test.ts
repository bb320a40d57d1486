/**
 * Pull rules, on-demand pulls (sibling edge through the region, HQ downwards),
 * the idle grace period, refusals (busy, loop) with in-process nodes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pino } from 'pino';
import { UpperLink, StreamKind } from '../../dataplane/cascade/index.js';
import { defaultTransport } from '../../dataplane/transport/index.js';
import { createMediaFrameDecoder, decodeMediaFrame, encodeMediaFrame, MediaRefuseCode, type MediaFrame } from '../../dataplane/protocol/index.js';
import type { LinkStream } from '../../dataplane/transport/link.js';
import { waitFor } from '../helpers/node.js';
import { startCapturedNode } from '../helpers/captured-node.js';
import { flvUrl, liveSynthetic, playFlv, sleep, startHq, startLower, stopAfterAll, waitOnline } from './forwarding-helpers.js';
import { tempDir } from '../helpers/tmp.js';

const { keep, cleanups } = stopAfterAll();
const GRACE = { forwarding: { ondemandgrace: 1000 } };

async function firstFrame(s: LinkStream): Promise<MediaFrame | null> {
  const dec = createMediaFrameDecoder();
  for (;;) {
    const c = await s.read();
    if (c === null) return null;
    const f = dec.push(c);
    if (f.length > 0) return decodeMediaFrame(f[0]!);
  }
}

describe('forwarding: pull rules', () => {
  test('a pull rule keeps the stream pulled while the upper node has it, retrying until it does', async () => {
    const hq = keep(await startHq('rule-hq'));
    const edge = keep(await startLower(hq, 'rule-edge', { pull: [{ streampath: 'live/copy', pullurl: 'cascade://live/cam' }] }));
    await sleep(1500); // the upper node does not have it yet: refused, retried
    assert.equal(edge.app.hub.has('live/copy'), false);
    const src = liveSynthetic(hq, 'live/cam');
    await waitFor(() => edge.app.hub.has('live/copy'), 5_000, 'pulled by rule');
    const info = edge.app.hub.get('live/copy')!;
    assert.deepEqual([info.publisher.protocol, info.publisher.remote], ['cascade', 'rule-hq']);
    assert.equal(edge.app.services.forwarding.forwardingOf('live/copy').direction, 'PULLED_IN');
    assert.deepEqual(hq.app.services.forwarding.directionsOf('live/cam'), ['LOCAL', 'PULLED_OUT']);
    const p = await playFlv(flvUrl(edge, 'live/copy'));
    assert.ok(p.got >= 20_000);
    p.stop();
    src.stop();
    await waitFor(() => !edge.app.hub.has('live/copy'), 5_000, 'copy ends with the source');
    const again = liveSynthetic(hq, 'live/cam');
    cleanups.push(() => again.stop());
    await waitFor(() => edge.app.hub.has('live/copy'), 5_000, 'pulled again when the source is back');
  });
});

describe('forwarding: on demand', () => {
  test('edge A → region → edge B: a player at edge B gets a stream published at edge A; closes after the grace period', async () => {
    const hq = keep(await startHq('od-hq', GRACE));
    const region = keep(await startLower(hq, 'od-region', {}, { server: true, extra: GRACE }));
    const a = keep(await startLower(region, 'od-edge-a', {}, { extra: GRACE }));
    const b = keep(await startLower(region, 'od-edge-b', {}, { extra: GRACE }));
    const src = liveSynthetic(a, 'live/sib');
    cleanups.push(() => src.stop());
    // region learns from edge A's ANNOUNCE; HQ from the region's
    await waitFor(async () => (await hq.app.services.forwarding.topology()).children[0]?.children[0]?.streams.includes('live/sib'), 5_000, 'announced up to HQ');
    const t0 = Date.now();
    const p = await playFlv(flvUrl(b, 'live/sib'));
    const startMs = Date.now() - t0;
    assert.ok(p.got >= 20_000, 'player at edge B receives media');
    assert.ok(startMs < 3_000, `player started within ${startMs} ms`);
    assert.equal(b.app.hub.get('live/sib')!.publisher.remote, 'od-region');
    assert.equal(region.app.hub.get('live/sib')!.publisher.remote, 'od-edge-a');
    const fb = b.app.services.forwarding.forwardingOf('live/sib');
    assert.equal(fb.direction, 'PULLED_IN');
    assert.equal(fb.onDemand, true);
    assert.deepEqual(fb.chain, ['od-edge-a', 'od-region']);
    assert.deepEqual(a.app.services.forwarding.directionsOf('live/sib'), ['LOCAL', 'PULLED_OUT']);
    p.stop();
    await waitFor(() => !b.app.hub.has('live/sib'), 4_000, 'edge B closes the pull after the grace period');
    await waitFor(() => !region.app.hub.has('live/sib'), 4_000, 'region closes its pull after the grace period');
    await waitFor(() => a.app.services.forwarding.forwardingOf('live/sib').outbound.length === 0, 4_000, 'edge A no longer sends');
    assert.equal(a.app.hub.has('live/sib'), true, 'the source is unaffected');
  });

  test('from HQ downwards: a player at an edge gets a stream published at HQ, two hops down through the region', async () => {
    const hq = keep(await startHq('hd-hq', GRACE));
    const region = keep(await startLower(hq, 'hd-region', {}, { server: true, extra: GRACE }));
    const edge = keep(await startLower(region, 'hd-edge', {}, { extra: GRACE }));
    const src = liveSynthetic(hq, 'live/top');
    cleanups.push(() => src.stop());
    const t0 = Date.now();
    const p = await playFlv(flvUrl(edge, 'live/top'));
    assert.ok(p.got >= 20_000, 'player at the edge receives media');
    assert.ok(Date.now() - t0 < 3_000, 'starts within a few seconds');
    assert.equal(region.app.hub.get('live/top')!.publisher.remote, 'hd-hq');
    assert.deepEqual(edge.app.services.forwarding.forwardingOf('live/top').chain, ['hd-hq', 'hd-region']);
    assert.deepEqual(hq.app.services.forwarding.directionsOf('live/top'), ['LOCAL', 'PULLED_OUT']);
    p.stop();
    await waitFor(() => !edge.app.hub.has('live/top') && !region.app.hub.has('live/top'), 6_000, 'both pulls close after the grace period');
  });

  test('upwards on demand: a player at HQ gets a stream published at an edge (not pushed)', async () => {
    const hq = keep(await startHq('dn-hq', GRACE));
    const edge = keep(await startLower(hq, 'dn-edge', {}, { extra: GRACE }));
    const src = liveSynthetic(edge, 'live/down');
    cleanups.push(() => src.stop());
    await waitFor(async () => (await hq.app.services.forwarding.topology()).children[0]?.streams.includes('live/down'), 5_000, 'announced');
    const p = await playFlv(flvUrl(hq, 'live/down'));
    assert.ok(p.got >= 20_000);
    assert.equal(hq.app.services.forwarding.forwardingOf('live/down').direction, 'PULLED_IN');
    p.stop();
    await waitFor(() => !hq.app.hub.has('live/down'), 4_000, 'closed after the grace period');
  });

  test('a path that could not be pulled is remembered for a moment: asking again opens no new pull', async () => {
    const hq = keep(await startCapturedNode({ name: 'miss-hq', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } }, 'pglite://memory', 'info'));
    const edge = keep(await startLower(hq, 'miss-edge', {}, { extra: { forwarding: { ondemandmissttl: 60_000 } } }));
    const asked = (): number => hq.logs.filter((l) => l.msg === 'pull request refused' && l.streamPath === 'live/absent').length;
    for (let i = 0; i < 3; i++) {
      const r = await fetch(flvUrl(edge, 'live/absent'));
      assert.equal(r.status, 404);
      await r.body?.cancel();
    }
    assert.equal(asked(), 1, 'the upper node was asked once');
    const src = liveSynthetic(hq, 'live/absent');
    cleanups.push(() => src.stop());
    const r = await fetch(flvUrl(edge, 'live/absent'));
    assert.equal(r.status, 404, 'still a miss within the time');
    await r.body?.cancel();
    assert.equal(asked(), 1);
  });

  test('a path nobody has: the player is refused quickly', async () => {
    const hq = keep(await startHq('nf-hq'));
    const edge = keep(await startLower(hq, 'nf-edge'));
    const t0 = Date.now();
    const r = await fetch(flvUrl(edge, 'live/nothing'));
    assert.equal(r.status, 404);
    await r.body?.cancel();
    assert.ok(Date.now() - t0 < 3_000);
  });
});

describe('forwarding: refusals', () => {
  test('push to an upper node that already has the path: refused with a reason, local stream unaffected', async () => {
    const hq = keep(await startCapturedNode({ name: 'busy-hq', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } }, 'pglite://memory', 'info'));
    const own = liveSynthetic(hq, 'live/busy');
    cleanups.push(() => own.stop());
    const edge = keep(
      await startCapturedNode(
        { name: 'busy-edge', 'cascade-client': { server: `127.0.0.1:${hq.app.addresses.quic!.port}`, autopush: true } },
        'pglite://memory',
        'info',
      ),
    );
    await waitOnline(edge);
    const mine = liveSynthetic(edge, 'live/busy');
    cleanups.push(() => mine.stop());
    const upper = await waitFor(() => hq.logs.find((l) => l.msg === 'push from lower node refused'), 5_000, 'refusal logged at HQ');
    const lower = await waitFor(() => edge.logs.find((l) => l.msg === 'push refused by the upper node'), 5_000, 'refusal logged at the edge');
    for (const l of [upper, lower]) {
      assert.match(String(l.reason), /live\/busy is already published on busy-hq/);
      assert.equal(l.streamPath, 'live/busy');
    }
    await sleep(500);
    assert.equal(hq.app.hub.get('live/busy')!.publisher.protocol, 'test', 'HQ keeps its own publisher');
    assert.equal(edge.app.hub.has('live/busy'), true, 'the edge stream is unaffected');
    const p = await playFlv(flvUrl(edge, 'live/busy'));
    p.stop();
  });

  test('a loop (OPEN whose chain contains the receiving node) is refused with a reason', async () => {
    const hq = keep(await startHq('loop-hq'));
    const dir = tempDir('sc-loop-');
    const client = new UpperLink({
      transport: defaultTransport,
      server: { host: '127.0.0.1', port: hq.app.addresses.quic!.port },
      name: 'rogue',
      secret: 'rogue-secret-key',
      version: 'test',
      verify: { knownServersFile: path.join(dir, 'known') },
      logger: pino({ level: 'silent' }),
    });
    client.start();
    cleanups.push(() => client.stop());
    await waitFor(() => client.status().state === 'online', 10_000, 'rogue online');
    for (const kind of [StreamKind.MediaPush, StreamKind.MediaPull]) {
      const s = await client.openStream(kind);
      await s.write(encodeMediaFrame({ type: 'open', path: 'live/loop', chain: ['edge-x', 'loop-hq', 'region-y'] }));
      const f = await firstFrame(s);
      assert.equal(f?.type, 'refuse');
      assert.equal(f.type === 'refuse' && f.code, MediaRefuseCode.Loop);
      assert.match(f.type === 'refuse' ? f.reason : '', /loop.*loop-hq/);
    }
    assert.equal(hq.app.hub.has('live/loop'), false);

    // The same lower node pushing a path again (it reconnected before the upper node saw
    // its old link die) replaces its older push instead of being refused as busy.
    const first = await client.openStream(StreamKind.MediaPush);
    await first.write(encodeMediaFrame({ type: 'open', path: 'live/again', chain: ['rogue'] }));
    assert.equal((await firstFrame(first))?.type, 'accept');
    await waitFor(() => hq.app.hub.has('live/again'), 2_000, 'first push published');
    const second = await client.openStream(StreamKind.MediaPush);
    await second.write(encodeMediaFrame({ type: 'open', path: 'live/again', chain: ['rogue'] }));
    assert.equal((await firstFrame(second))?.type, 'accept');
    await assert.rejects(firstFrame(first), 'the older push is reset');
    assert.equal(hq.app.hub.get('live/again')?.publisher.remote, 'rogue');
  });

  test('a stream pulled down is never pushed back up (autopush on the pulling edge)', async () => {
    const hq = keep(await startHq('nb-hq'));
    const src = liveSynthetic(hq, 'live/nb');
    cleanups.push(() => src.stop());
    const edge = keep(await startLower(hq, 'nb-edge', { autopush: true, pull: [{ streampath: 'live/nb2', pullurl: 'cascade://live/nb' }] }));
    await waitFor(() => edge.app.hub.has('live/nb2'), 5_000, 'pulled');
    await sleep(500);
    assert.equal(hq.app.hub.has('live/nb2'), false, 'not pushed back');
    assert.deepEqual(edge.app.services.forwarding.directionsOf('live/nb2'), ['PULLED_IN']);
  });
});
