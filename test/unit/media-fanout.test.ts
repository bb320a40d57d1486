import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pino from 'pino';
import { createMediaTag, encodeFlvTag, RtmpChunkDecoder, RtmpChunkEncoder, StreamHub, type MediaTag } from '../../dataplane/media/index.js';
import { MAX_ENCODINGS_PER_TAG, sharedFlvTag, sharedRtmpMessage } from '../../dataplane/media/shared-encoding.js';
import { encodeRtmpMessageFmt0 } from '../../dataplane/media/rtmp-chunk-encoder.js';
import { httpChunkHeader, wsBinaryFrameHeader } from '../../dataplane/media/merged-writes.js';
import { pumpMerged, type BatchSink } from '../../dataplane/media/subscriber-pump.js';
import { PlayerAdmission } from '../../dataplane/media/player-admission.js';
import type { RtmpMessage } from '../../dataplane/media/rtmp-message.js';

const AVC_HEADER = Buffer.from('17000000000142c00dffe100166742c00dda0507ec0440000003004000000c83c50aa801000468ce0fc8', 'hex');
const key = (ts: number): MediaTag => createMediaTag('video', ts, new Uint8Array(100).fill(1).fill(0x17, 0, 1));
const inter = (ts: number): MediaTag => createMediaTag('video', ts, new Uint8Array(100).fill(1).fill(0x27, 0, 1));

function decodeAll(bytes: Uint8Array, chunkSize: number): RtmpMessage[] {
  const dec = new RtmpChunkDecoder();
  dec.chunkSize = chunkSize;
  const out: RtmpMessage[] = [];
  dec.push(bytes, (m) => out.push(m));
  return out;
}

describe('shared encoding', () => {
  test('an FLV tag is built once per output timestamp and equals encodeFlvTag', () => {
    const tag = inter(5_000);
    const a = sharedFlvTag(tag, 40);
    assert.equal(sharedFlvTag(tag, 40), a, 'same key: the very same buffer');
    assert.deepEqual(new Uint8Array(a), encodeFlvTag(9, 40, tag.data));
    const b = sharedFlvTag(tag, 80);
    assert.notEqual(b, a);
    assert.deepEqual(new Uint8Array(b), encodeFlvTag(9, 80, tag.data));
    assert.ok(Buffer.isBuffer(a), 'a Buffer, taken by sockets without wrapping');
  });

  test('past the per-tag bound encodings are still right, just not kept', () => {
    const tag = inter(1);
    for (let i = 0; i < MAX_ENCODINGS_PER_TAG; i++) sharedFlvTag(tag, i);
    const extra = sharedFlvTag(tag, 1_000);
    assert.notEqual(sharedFlvTag(tag, 1_000), extra, 'not cached');
    assert.deepEqual(new Uint8Array(extra), encodeFlvTag(9, 1_000, tag.data));
    assert.equal(sharedFlvTag(tag, 3), sharedFlvTag(tag, 3), 'earlier keys stay shared');
  });

  test('RTMP: one self-contained message per chunk size / stream id / timestamp', () => {
    const tag = inter(0);
    const a = sharedRtmpMessage(tag, 40, 4096, 1);
    assert.equal(sharedRtmpMessage(tag, 40, 4096, 1), a);
    assert.notEqual(sharedRtmpMessage(tag, 40, 128, 1), a);
    assert.notEqual(sharedRtmpMessage(tag, 40, 4096, 2), a);
    const [msg] = decodeAll(a, 4096);
    assert.deepEqual({ ...msg, payload: new Uint8Array(msg?.payload ?? []) }, { csid: 6, type: 9, streamId: 1, timestamp: 40, payload: tag.data });
  });

  test('type-0 messages decode the same on any connection state, and the encoder resumes after forget()', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ size: fc.integer({ min: 0, max: 3000 }), ts: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0xfffff0, max: 0x1000100 })) }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 5000 }),
        (msgs, chunkSize) => {
          // A connection that already sent something on the same chunk stream with its own encoder.
          const enc = new RtmpChunkEncoder();
          enc.chunkSize = chunkSize;
          const parts: Uint8Array[] = [enc.encode({ csid: 6, type: 9, streamId: 1, timestamp: 7, payload: new Uint8Array(10) })];
          const sent: RtmpMessage[] = [];
          for (const [i, m] of msgs.entries()) {
            const msg = { csid: 6, type: 9, streamId: 1, timestamp: m.ts, payload: new Uint8Array(m.size).fill(i) };
            sent.push(msg);
            parts.push(encodeRtmpMessageFmt0(msg, chunkSize));
          }
          enc.forget(6);
          const after = { csid: 6, type: 9, streamId: 1, timestamp: 3, payload: new Uint8Array(5).fill(9) };
          parts.push(enc.encode(after));
          const got = decodeAll(Buffer.concat(parts), chunkSize).slice(1);
          assert.deepEqual(
            got.map((m) => ({ ...m, payload: new Uint8Array(m.payload) })),
            [...sent, after].map((m) => ({ ...m, timestamp: m.timestamp >>> 0 })),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('merged writes: framing', () => {
  test('HTTP chunk header is the hex size and CRLF', () => {
    assert.equal(Buffer.from(httpChunkHeader(1)).toString(), '1\r\n');
    assert.equal(Buffer.from(httpChunkHeader(0x1a2b)).toString(), '1a2b\r\n');
  });

  test('WebSocket frame header: FIN + binary, unmasked, 7/16/64-bit lengths', () => {
    for (const size of [0, 1, 125, 126, 65_535, 65_536, 5_000_000]) {
      const h = wsBinaryFrameHeader(size);
      assert.equal(h[0], 0x82);
      const len7 = (h[1] as number) & 0x7f;
      assert.equal((h[1] as number) & 0x80, 0, 'server frames are not masked');
      const len = len7 < 126 ? len7 : len7 === 126 ? Buffer.from(h).readUInt16BE(2) : Number(Buffer.from(h).readBigUInt64BE(2));
      assert.equal(len, size);
      assert.equal(h.length, len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
    }
  });
});

describe('merged pump', () => {
  const logger = pino({ level: 'silent' });

  function collect(ok = true): { sink: BatchSink; batches: Array<{ at: number; tags: MediaTag[] }> } {
    const batches: Array<{ at: number; tags: MediaTag[] }> = [];
    return {
      batches,
      sink: {
        writeBatch: (tags) => {
          batches.push({ at: Date.now(), tags: [...tags] });
          return ok;
        },
        drained: () => Promise.resolve(true),
      },
    };
  }

  test('headers + GOP go out at once, live tags in one batch per window, the end is delivered', async () => {
    const hub = new StreamHub({ logger });
    const pub = hub.publish('live/m', { protocol: 'test', remote: 'here' });
    pub.write(createMediaTag('video', 0, AVC_HEADER));
    pub.write(key(0));
    pub.write(inter(40));
    const sub = hub.subscribe('live/m', { protocol: 'test', remote: 'p' });
    assert.ok(sub !== null);
    const { sink, batches } = collect();
    const t0 = Date.now();
    const done = pumpMerged(sub, sink, 200);
    await new Promise((r) => setImmediate(r));
    assert.equal(batches.length, 1, 'the initial burst is written without waiting for the window');
    assert.deepEqual(batches[0]?.tags.map((t) => t.timestamp), [0, 0, 40]);
    assert.ok((batches[0]?.at ?? Infinity) - t0 < 150);
    for (let i = 2; i < 7; i++) pub.write(inter(i * 40)); // one tick: one window
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(batches.length, 1, 'live tags wait for the window');
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(batches.length, 2);
    assert.deepEqual(batches[1]?.tags.map((t) => t.timestamp), [80, 120, 160, 200, 240]);
    pub.write(inter(280));
    pub.close();
    await done;
    assert.deepEqual(batches.at(-1)?.tags.map((t) => t.timestamp), [280], 'tags queued before the end are delivered');
    hub.close();
  });

  test('window 0 writes whatever is queued when the pump wakes', async () => {
    const hub = new StreamHub({ logger });
    const pub = hub.publish('live/z', { protocol: 'test', remote: 'here' });
    const sub = hub.subscribe('live/z', { protocol: 'test', remote: 'p' });
    assert.ok(sub !== null);
    const { sink, batches } = collect();
    const done = pumpMerged(sub, sink, 0);
    pub.write(key(0));
    await new Promise((r) => setImmediate(r));
    pub.write(inter(40));
    pub.write(inter(80));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(batches.map((b) => b.tags.map((t) => t.timestamp)), [[0], [40, 80]]);
    pub.close();
    await done;
    hub.close();
  });

  test('a full transport pauses the pump until drained; a closed one ends it', async () => {
    const hub = new StreamHub({ logger });
    const pub = hub.publish('live/b', { protocol: 'test', remote: 'here' });
    pub.write(key(0));
    const sub = hub.subscribe('live/b', { protocol: 'test', remote: 'p' });
    assert.ok(sub !== null);
    let release: ((ok: boolean) => void) | null = null;
    let writes = 0;
    const sink: BatchSink = {
      writeBatch: () => {
        writes++;
        return false;
      },
      drained: () => new Promise((r) => (release = r)),
    };
    const done = pumpMerged(sub, sink, 0);
    await new Promise((r) => setImmediate(r));
    pub.write(inter(40));
    await new Promise((r) => setImmediate(r));
    assert.equal(writes, 1, 'nothing written while the transport is full');
    assert.equal(sub.stats.queuedTags, 1, 'the subscriber queue holds the rest');
    (release as unknown as (ok: boolean) => void)(true);
    await new Promise((r) => setImmediate(r));
    assert.equal(writes, 2);
    (release as unknown as (ok: boolean) => void)(false);
    await done;
    sub.close();
    hub.close();
  });
});

describe('player admission', () => {
  test('a player cap refuses past it and a released slot is reused', () => {
    const gate = new PlayerAdmission({ maxPlayers: 2 });
    assert.equal(gate.admit(), null);
    assert.equal(gate.admit(), null);
    assert.match(gate.admit() ?? '', /player limit 2/);
    gate.release();
    assert.equal(gate.admit(), null);
    assert.equal(gate.players, 2);
    gate.close();
  });

  test('one stall refuses nobody; a loop that keeps lagging refuses new players until it recovers', async () => {
    const gate = new PlayerAdmission({ maxEventLoopLagMs: 100 });
    const block = (ms: number): void => {
      const end = Date.now() + ms;
      while (Date.now() < end); // block the loop
    };
    const turn = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    await turn(50); // the monitor's first sample only sets its clock
    // One 300 ms stall (a collection, a module loading), then a free loop.
    block(300);
    for (let i = 0; i < 20 && gate.eventLoopLagMs <= 100; i++) await turn(20);
    assert.ok(gate.eventLoopLagMs > 100, 'the stall was seen');
    assert.equal(gate.admit(), null, 'one stall refuses nobody');
    gate.release();
    // A loop that lags in every window for 2 s.
    let refused: string | null = null;
    const until = Date.now() + 2_500;
    while (Date.now() < until && refused === null) {
      block(150);
      await turn(1);
      refused = gate.admit();
      if (refused === null) gate.release();
    }
    assert.match(refused ?? '', /event loop lag \d+ ms or more for 1.5 s/);
    // Free again: admitted once the windows are clear.
    let admitted = false;
    for (let i = 0; i < 100 && !admitted; i++) {
      await turn(20);
      admitted = gate.admit() === null;
    }
    assert.ok(admitted, 'admitted again after the loop recovered');
    gate.close();
  });
});
