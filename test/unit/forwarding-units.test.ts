/**
 * Pure parts of forwarding: the registry (inbound/outbound records, announce tables),
 * pull URLs, and the media stream pumps over an in-memory stream pair.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { pullUrlPath, StreamRegistry } from '../../dataplane/cascade/index.js';
import { MediaStreamIo } from '../../dataplane/cascade/forwarding/media-stream.js';
import { clientAddress } from '../../dataplane/cascade/forwarding/on-demand.js';
import { createMediaTag, StreamHub, type MediaTag } from '../../dataplane/media/index.js';
import { CloseCode, encodeFrame, encodeMediaFrame, MediaFrameType, ProtocolError } from '../../dataplane/protocol/index.js';
import { LinkStreamResetError, type LinkStream } from '../../dataplane/transport/link.js';

const log = pino({ level: 'silent' });

/** Two ends of an in-memory bidirectional stream (no flow control). */
function pair(): [LinkStream, LinkStream] {
  type Q = { chunks: (Uint8Array | null)[]; waiter: ((c: Uint8Array | null) => void) | null; reset: number | null; rejecter: ((e: Error) => void) | null };
  const mk = (): Q => ({ chunks: [], waiter: null, reset: null, rejecter: null });
  const qa = mk();
  const qb = mk();
  const end = (id: number, inbox: Q, outbox: Q): LinkStream => {
    const deliver = (c: Uint8Array | null): void => {
      if (outbox.waiter) {
        const w = outbox.waiter;
        outbox.waiter = null;
        outbox.rejecter = null;
        w(c);
      } else outbox.chunks.push(c);
    };
    return {
      id,
      closed: new Promise(() => {}),
      read: () => {
        if (inbox.reset !== null) return Promise.reject(new LinkStreamResetError(inbox.reset));
        if (inbox.chunks.length > 0) return Promise.resolve(inbox.chunks.shift()!);
        return new Promise((resolve, reject) => {
          inbox.waiter = resolve;
          inbox.rejecter = reject;
        });
      },
      write: async (d) => {
        if (outbox.reset !== null) throw new LinkStreamResetError(outbox.reset);
        deliver(d.slice());
      },
      end: async () => deliver(null),
      reset: (code = 0) => {
        for (const q of [inbox, outbox]) {
          q.reset ??= code;
          q.rejecter?.(new LinkStreamResetError(code));
          q.waiter = null;
          q.rejecter = null;
        }
      },
    };
  };
  return [end(1, qa, qb), end(1, qb, qa)];
}

describe('forwarding units', () => {
  test('clientAddress: the address of a player from its remote', () => {
    assert.equal(clientAddress('1.2.3.4:5678'), '1.2.3.4');
    assert.equal(clientAddress('::ffff:127.0.0.1:5555'), '127.0.0.1');
    assert.equal(clientAddress('::1:40000'), '::1');
    assert.equal(clientAddress('[2001:db8::1]:1935'), '2001:db8::1');
    assert.equal(clientAddress('?:0'), '?');
  });

  test('pullUrlPath', () => {
    assert.equal(pullUrlPath('cascade://live/cam'), 'live/cam');
    assert.equal(pullUrlPath('rtmp://live/cam'), null);
  });

  test('registry: an inbound record is the origin of its stream in the hub, known at the publish, gone with the unpublish; chains; outbound', () => {
    const hub = new StreamHub({ logger: log });
    const r = new StreamRegistry(log, hub);
    const changes: (string | null)[] = [];
    r.on('changed', (p) => void changes.push(p));
    const seen: (string | undefined)[] = [];
    hub.on('published', (info) => void seen.push(r.inboundOf(info.path)?.peer));
    const pub = hub.publish('a/b', { protocol: 'cascade', remote: 'hq' }, r.inbound({ path: 'a/b', direction: 'PULLED_IN', peer: 'hq', fromUpper: true, chain: ['hq'], onDemand: true }));
    assert.deepEqual(seen, ['hq'], 'a published listener sees the origin');
    assert.deepEqual(r.chainOf('a/b'), ['hq']);
    pub.close('done');
    assert.equal(r.inboundOf('a/b'), undefined);
    assert.deepEqual(r.chainOf('a/b'), []);
    hub.publish('a/c', { protocol: 'rtmp', remote: 'x' }, { someone: 'else' });
    assert.equal(r.inboundOf('a/c'), undefined, 'an origin the registry did not make is not inbound');
    const rmo = r.addOutbound({ path: 'a/b', direction: 'PUSHED_OUT', peer: 'hq', bytes: () => 42 });
    assert.equal(r.outboundOf('a/b')[0]!.bytes(), 42);
    rmo();
    rmo();
    assert.equal(r.allOutbound().length, 0);
    assert.ok(changes.length >= 4);
    r.close();
  });

  test('registry: announce tables (reset, deltas, chains default to the announcer, exclusion)', () => {
    const r = new StreamRegistry(log, new StreamHub({ logger: log }));
    r.applyAnnounce(1, 'region', { reset: true, added: [{ path: 'live/a', chain: ['edge', 'region'] }, { path: 'live/b' }], removed: [] });
    r.applyAnnounce(2, 'other', { reset: true, added: [{ path: 'live/a' }], removed: [] });
    assert.deepEqual([...r.announcedNodes()[0]!.streams.values()].map((s) => s.chain), [['edge', 'region'], ['region']]);
    assert.deepEqual(r.whoAnnounced('live/a').map((n) => n.name), ['region', 'other']);
    assert.deepEqual(r.whoAnnounced('live/a', ['region']).map((n) => n.name), ['other']);
    r.applyAnnounce(1, 'region', { reset: false, added: [], removed: ['live/a'] });
    assert.deepEqual(r.whoAnnounced('live/a').map((n) => n.name), ['other']);
    r.applyAnnounce(2, 'other', { reset: true, added: [], removed: [] });
    assert.deepEqual(r.whoAnnounced('live/a'), []);
    r.dropAnnounced(1);
    assert.equal(r.announcedNodes().length, 1);
  });

  test('pumps: hub subscriber → stream → hub publisher, headers first, END with the reason', async () => {
    const [a, b] = pair();
    const hubA = new StreamHub({ logger: log });
    const hubB = new StreamHub({ logger: log });
    const pub = hubA.publish('live/x', { protocol: 'test', remote: 't' });
    pub.write(createMediaTag('video', 0, Uint8Array.of(0x17, 0, 0, 0, 0, 1, 2, 3)));
    pub.write(createMediaTag('video', 40, Uint8Array.of(0x17, 1, 0, 0, 0, 9)));
    const sub = hubA.subscribe('live/x', { protocol: 'cascade', remote: 'b' })!;
    const out = new MediaStreamIo(a);
    const inn = new MediaStreamIo(b);
    const copy = hubB.publish('live/x', { protocol: 'cascade', remote: 'a' });
    const got: MediaTag[] = [];
    const reader = hubB.subscribe('live/x', { protocol: 'test', remote: 't' })!;
    const reading = (async () => {
      for await (const t of reader) got.push(t);
    })();
    const sending = out.pumpFrom(sub);
    const receiving = inn.pumpInto(copy);
    pub.write(createMediaTag('audio', 41, Uint8Array.of(0xaf, 1, 7)));
    pub.close('bye');
    assert.equal(await sending, 'unpublished');
    assert.equal(await receiving, 'unpublished');
    copy.close('done');
    await reading;
    assert.deepEqual(got.map((t) => [t.type, t.timestamp, [...t.data]]), [
      ['video', 0, [0x17, 0, 0, 0, 0, 1, 2, 3]],
      ['video', 40, [0x17, 1, 0, 0, 0, 9]],
      ['audio', 41, [0xaf, 1, 7]],
    ]);
    assert.ok(out.bytesOut > 0 && out.bytesOut === inn.bytesIn);
  });

  test('pumpInto rejects frames out of order and bad bytes with a ProtocolError; next() sees FIN', async () => {
    const hub = new StreamHub({ logger: log });
    for (const bytes of [
      encodeMediaFrame({ type: 'open', path: 'a/b', chain: [] }),
      encodeFrame(MediaFrameType.Tag, Uint8Array.of(1, 2)),
      Uint8Array.of(0x01, 0, 0, 0, 0),
    ]) {
      const [a, b] = pair();
      const pub = hub.publish('bad/x', { protocol: 't', remote: 't' });
      await a.write(bytes);
      await assert.rejects(new MediaStreamIo(b).pumpInto(pub), (e: unknown) => e instanceof ProtocolError && e.code !== CloseCode.Normal);
      pub.close();
    }
    const [a, b] = pair();
    await a.write(encodeMediaFrame({ type: 'end', reason: 'x' }).subarray(0, 3));
    await a.end();
    await assert.rejects(new MediaStreamIo(b).next(), ProtocolError, 'FIN inside a frame');
  });
});

describe('media stream first frame', () => {
  test('a huge first frame is refused before it is buffered (FrameTooLarge), a later big TAG is fine', async () => {
    const [a, b] = pair();
    const hdr = new Uint8Array(5);
    hdr[0] = MediaFrameType.Tag;
    new DataView(hdr.buffer).setUint32(1, 4 * 1024 * 1024, false);
    await a.write(hdr);
    await a.write(new Uint8Array(64 * 1024));
    await assert.rejects(new MediaStreamIo(b).next(), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.FrameTooLarge);
    const [c, d] = pair();
    await c.write(encodeMediaFrame({ type: 'accept', chain: [] }));
    const big = encodeMediaFrame({ type: 'tag', tagType: 9, timestamp: 1, body: new Uint8Array(1024 * 1024) });
    for (let i = 0; i < big.byteLength; i += 60_000) await c.write(big.subarray(i, i + 60_000));
    const io = new MediaStreamIo(d);
    assert.equal((await io.next())?.type, 'accept');
    const t = await io.next();
    assert.equal(t?.type === 'tag' && t.body.byteLength, 1024 * 1024);
  });
});
