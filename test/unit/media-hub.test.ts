import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import {
  Amf0EcmaArray,
  createMediaTag,
  decodeAmf0,
  encodeAmf0,
  InvalidStreamPathError,
  MediaClosedError,
  StreamBusyError,
  StreamHub,
  type MediaTag,
  type Publisher,
  type Subscriber,
} from '../../dataplane/media/index.js';

/** A logger whose lines the test can read. */
function memoryLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, dest), lines };
}

const info = { protocol: 'test', remote: 'here' };
const AVC_HEADER = Buffer.from('17000000000142c00dffe100166742c00dda0507ec0440000003004000000c83c50aa801000468ce0fc8', 'hex');
const AAC_HEADER = Uint8Array.from([0xaf, 0, 0x12, 0x10]);
const key = (ts: number, size = 100): MediaTag => createMediaTag('video', ts, new Uint8Array(size).fill(1).fill(0x17, 0, 1));
const inter = (ts: number, size = 100): MediaTag => createMediaTag('video', ts, new Uint8Array(size).fill(1).fill(0x27, 0, 1));
const audio = (ts: number): MediaTag => createMediaTag('audio', ts, Uint8Array.from([0xaf, 1, 2, 3]));

function startStream(pub: Publisher): void {
  pub.write(createMediaTag('script', 0, encodeAmf0('@setDataFrame', 'onMetaData', new Amf0EcmaArray({ width: 320, height: 240, framerate: 25 }))));
  pub.write(createMediaTag('video', 0, AVC_HEADER));
  pub.write(createMediaTag('audio', 0, AAC_HEADER));
}

function drain(sub: Subscriber): MediaTag[] {
  const out: MediaTag[] = [];
  for (let t = sub.poll(); t; t = sub.poll()) out.push(t);
  return out;
}

describe('stream hub', () => {
  test('publish, duplicate refused with StreamBusyError, invalid path, closed hub', () => {
    const hub = new StreamHub({ logger: pino({ level: 'silent' }) });
    const pub = hub.publish('live/a', { protocol: 'rtmp', remote: '1.2.3.4:5' });
    assert.throws(() => hub.publish('live/a', info), (e: unknown) => e instanceof StreamBusyError && e.code === 'STREAM_BUSY');
    assert.equal(pub.closed, false);
    assert.equal(hub.get('live/a')?.publisher.remote, '1.2.3.4:5');
    for (const bad of ['', 'a', '/a/b', 'a/../b', 'a/b/', 'a b/c', 'a/' + 'x'.repeat(300)]) {
      assert.throws(() => hub.publish(bad, info), InvalidStreamPathError, bad);
    }
    pub.write(key(0));
    const sub = hub.subscribe('live/a', info)!;
    const reasons: string[] = [];
    sub.on('close', (r) => reasons.push(r));
    hub.close();
    hub.close();
    assert.equal(pub.closed, true);
    assert.equal(sub.closed, true, 'closing the hub closes subscribers at once');
    assert.deepEqual(reasons, ['hub closed']);
    assert.throws(() => hub.publish('live/b', info), MediaClosedError);
    assert.equal(hub.subscribe('live/a', info), null);
  });

  test('a subscriber starts with metadata, sequence headers and the GOP from its keyframe, then live', () => {
    const hub = new StreamHub({ logger: pino({ level: 'silent' }) });
    const pub = hub.publish('live/a', info);
    startStream(pub);
    pub.write(inter(10)); // before any keyframe: not cached
    pub.write(key(40));
    pub.write(audio(45));
    pub.write(inter(80));
    const sub = hub.subscribe('live/a', info);
    assert.ok(sub);
    const first = drain(sub);
    assert.deepEqual(first.map((t) => t.type), ['script', 'video', 'audio', 'video', 'audio', 'video']);
    assert.equal(decodeAmf0(first[0]!.data)[0], 'onMetaData', '@setDataFrame stripped');
    assert.equal(first[1]!.sequenceHeader, true);
    assert.equal(first[3]!.keyframe, true);
    pub.write(inter(120));
    assert.equal(sub.poll()?.timestamp, 120);
    assert.equal(sub.poll(), undefined);
    const s = hub.get('live/a');
    assert.deepEqual(s?.video && { codec: s.video.codec, w: s.video.width, h: s.video.height }, { codec: 'h264', w: 320, h: 240 });
    assert.deepEqual(s?.audio, { codec: 'aac', sampleRate: 44100, channels: 2, profile: 'LC' });
    assert.equal(s?.subscribers, 1);
    hub.close();
  });

  test('next() waits for live tags; unpublish delivers the queue, then null; async iteration ends', async () => {
    const hub = new StreamHub({ logger: pino({ level: 'silent' }) });
    const pub = hub.publish('live/a', info);
    pub.write(key(0));
    const sub = hub.subscribe('live/a', info)!;
    assert.equal((await sub.next())?.keyframe, true);
    const pending = sub.next();
    pub.write(inter(40));
    assert.equal((await pending)?.timestamp, 40);
    pub.write(inter(80));
    pub.write(inter(120));
    const reasons: string[] = [];
    sub.on('close', (r) => reasons.push(r));
    pub.close('done');
    pub.close('again');
    const rest: number[] = [];
    for await (const t of sub) rest.push(t.timestamp);
    assert.deepEqual(rest, [80, 120]);
    assert.deepEqual(reasons, ['unpublished']);
    assert.equal(await sub.next(), null);
    assert.equal(hub.has('live/a'), false);
    assert.equal(pub.write(inter(160)), false);
    // The path is free again.
    hub.publish('live/a', info);
    hub.close();
  });

  test('a slow subscriber skips to the next keyframe, then is dropped; others are not affected', () => {
    const { logger, lines } = memoryLogger();
    const hub = new StreamHub({ logger, subscriber: { maxQueueBytes: 950, maxSkips: 3, skipWindowMs: 60_000 } });
    const pub = hub.publish('live/a', info);
    startStream(pub);
    const slow = hub.subscribe('live/a', { protocol: 'test', remote: 'slow' })!;
    const fast = hub.subscribe('live/a', { protocol: 'test', remote: 'fast' })!;
    drain(slow);
    drain(fast);
    const fastGot: MediaTag[] = [];
    let ts = 0;
    const gop = (): void => {
      pub.write(key((ts += 40)));
      for (let i = 0; i < 9; i++) {
        pub.write(inter((ts += 40)));
        fastGot.push(...drain(fast));
      }
    };
    gop(); // 10 tags of 100 bytes: the 10th overflows 950
    assert.equal(slow.stats.skips, 1);
    assert.equal(slow.stats.queuedTags, 0, 'queued media discarded');
    pub.write(inter((ts += 40))); // skipped: not a keyframe
    pub.write(key((ts += 40)));
    fastGot.push(...drain(fast));
    const resumed = drain(slow);
    assert.equal(resumed.length, 1);
    assert.equal(resumed[0]?.keyframe, true, 'resumes on a keyframe');
    gop();
    assert.equal(slow.stats.skips, 2);
    assert.equal(slow.closed, false);
    gop();
    assert.equal(slow.closed, true, 'dropped after repeated skips');
    assert.equal(fast.closed, false);
    assert.equal(fastGot.length, 32, `the fast subscriber got every tag: ${fastGot.map((t) => t.timestamp).join(',')} ${fast.stats.skips}`);
    assert.ok(lines.some((l) => l.level === 20 && l.msg === 'subscriber behind; skipping to next keyframe'));
    assert.ok(lines.some((l) => l.level === 40 && l.msg === 'subscriber stays behind; dropped' && l.remote === 'slow'));
    assert.equal(hub.get('live/a')?.subscribers, 1);
    hub.close();
  });

  test('the initial GOP burst does not count against the bounds (long GOPs)', () => {
    const hub = new StreamHub({ logger: pino({ level: 'silent' }), subscriber: { maxQueueBytes: 500, maxQueueDurationMs: 1_000 } });
    const pub = hub.publish('live/a', info);
    pub.write(key(0));
    for (let ts = 40; ts <= 8_000; ts += 40) pub.write(inter(ts)); // an 8 s GOP of 20 KB
    const sub = hub.subscribe('live/a', info)!;
    pub.write(inter(8_040));
    pub.write(inter(8_080));
    assert.equal(sub.stats.skips, 0);
    assert.equal(sub.poll()?.keyframe, true);
    assert.equal(sub.stats.queuedTags, 202);
    for (let ts = 8_120; ts <= 9_200; ts += 40) pub.write(inter(ts)); // live part passes 1 s
    assert.equal(sub.stats.skips, 1, 'the live part is bounded');
    hub.close();
  });

  test('a subscriber that stops reading is dropped after maxIdleMs', async () => {
    const hub = new StreamHub({ logger: pino({ level: 'silent' }), subscriber: { maxIdleMs: 50 } });
    const pub = hub.publish('live/a', info);
    pub.write(key(0));
    const sub = hub.subscribe('live/a', info)!;
    await new Promise((r) => setTimeout(r, 80));
    pub.write(inter(40));
    assert.equal(sub.closed, true);
    assert.equal(await sub.next(), null);
    hub.close();
  });

  test('events: published, updated, subscribersChanged, unpublished; listener exceptions are logged', () => {
    const { logger, lines } = memoryLogger();
    const hub = new StreamHub({ logger });
    const events: string[] = [];
    hub.on('published', (i) => {
      events.push(`published ${i.path}`);
      throw new Error('listener bug');
    });
    hub.on('updated', (i) => events.push(`updated ${i.video?.width ?? '-'}`));
    hub.on('subscribersChanged', (p, n) => events.push(`subs ${p} ${n}`));
    hub.on('unpublished', (p, r) => events.push(`unpublished ${p} ${r}`));
    const pub = hub.publish('live/a', info);
    pub.write(createMediaTag('video', 0, AVC_HEADER));
    const sub = hub.subscribe('live/a', info)!;
    sub.close();
    sub.close();
    pub.close('bye');
    assert.deepEqual(events, ['published live/a', 'updated 320', 'subs live/a 1', 'subs live/a 0', 'unpublished live/a bye']);
    assert.ok(lines.some((l) => l.msg === 'event listener threw' && l.level === 50));
    hub.close();
  });

  test('waitForPublish and subscribeOrWait with a missing-stream handler', async () => {
    const hub = new StreamHub({ logger: pino({ level: 'silent' }) });
    assert.equal(await hub.waitForPublish('live/x', 20), false);
    assert.equal(await hub.subscribeOrWait('live/x', info, 1000), null, 'no handler: at once');
    const asked: string[] = [];
    hub.setMissingStreamHandler(async (path) => {
      asked.push(path);
      if (path !== 'live/pull') return false;
      setTimeout(() => hub.publish(path, { protocol: 'cascade', remote: 'hq' }).write(key(0)), 20);
      return true;
    });
    const sub = await hub.subscribeOrWait('live/pull', info, 2_000);
    assert.ok(sub);
    assert.equal((await sub.next())?.keyframe, true);
    assert.equal(await hub.subscribeOrWait('live/none', info, 2_000), null);
    assert.deepEqual(asked, ['live/pull', 'live/none']);
    const waiting = hub.waitForPublish('live/later', 5_000);
    hub.close();
    assert.equal(await waiting, false, 'close releases waiters');
  });
});

describe('hub traffic', () => {
  test('bytes in from the publisher and out to subscribers, gone subscribers included; unpublished carries the last figures', async () => {
    const hub = new StreamHub({ logger: memoryLogger().logger });
    const pub = hub.publish('live/t', info);
    pub.write(key(0, 300));
    assert.deepEqual(hub.traffic(), [{ path: 'live/t', bytesIn: 300, bytesOut: 0 }]);
    const a = hub.subscribe('live/t', info)!;
    const b = hub.subscribe('live/t', info)!;
    assert.equal(a.poll()?.data.length, 300, 'the cached GOP first');
    pub.write(inter(40, 50));
    assert.equal(a.poll()?.data.length, 50);
    assert.deepEqual(hub.traffic(), [{ path: 'live/t', bytesIn: 350, bytesOut: 350 }], 'b has read nothing yet');
    b.poll();
    b.close();
    assert.deepEqual(hub.traffic(), [{ path: 'live/t', bytesIn: 350, bytesOut: 650 }], 'a closed subscriber still counts');
    const ended: unknown[] = [];
    hub.on('unpublished', (path, reason, traffic) => ended.push({ path, reason, traffic }));
    pub.write(inter(80, 20));
    pub.close('done');
    assert.deepEqual(ended, [{ path: 'live/t', reason: 'done', traffic: { bytesIn: 370, bytesOut: 650 } }]);
    assert.deepEqual(hub.traffic(), []);
    a.close();
    hub.close();
  });
});
