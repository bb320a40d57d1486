import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  chunkAnnounce,
  CloseCode,
  CONTROL_MAX_FRAME_BYTES,
  ControlFrameType,
  decodeControlFrame,
  encodeControlMessage,
  encodeFrame,
  FrameDecoder,
  isControlFrameType,
  ProtocolError,
  PROTOCOL_REVISION,
  type ControlMessage,
} from '../../dataplane/protocol/index.js';

function decodeOne(bytes: Uint8Array): ControlMessage {
  const dec = new FrameDecoder({ maxFrameBytes: CONTROL_MAX_FRAME_BYTES, isKnownType: isControlFrameType });
  const frames = dec.push(bytes);
  dec.finish();
  assert.equal(frames.length, 1);
  return decodeControlFrame(frames[0]!);
}

const str = (min: number, max: number): fc.Arbitrary<string> => fc.string({ minLength: min, maxLength: max });
const u8 = fc.integer({ min: 0, max: 255 });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

const messageArb: fc.Arbitrary<ControlMessage> = fc.oneof(
  fc.record(
    {
      type: fc.constant('hello' as const),
      protocol: fc.constant(PROTOCOL_REVISION),
      name: str(1, 128),
      version: str(0, 64),
      secret: fc.option(str(1, 1024), { nil: null }),
      instanceId: str(0, 64),
      features: fc.array(str(0, 64), { maxLength: 32 }),
    },
    { requiredKeys: ['type', 'protocol', 'name', 'version', 'secret'] },
  ),
  fc
    .record({
      type: fc.constant('welcome' as const),
      protocol: fc.constant(PROTOCOL_REVISION),
      clientId: fc.integer({ min: 0, max: 2 ** 40 }),
      clientName: str(0, 128),
      serverName: str(0, 128),
      serverVersion: str(0, 64),
      heartbeatIntervalMs: fc.integer({ min: 100, max: 60_000 }),
      extra: fc.integer({ min: 0, max: 100_000 }),
      features: fc.array(str(0, 64), { maxLength: 32 }),
    })
    .map(({ extra, ...w }) => ({ ...w, heartbeatTimeoutMs: Math.min(300_000, w.heartbeatIntervalMs + extra) })),
  fc.record(
    { type: fc.constant('reject' as const), code: u8, reason: str(0, 512), retryAfterMs: fc.integer({ min: 0, max: 86_400_000 }) },
    { requiredKeys: ['type', 'code', 'reason'] },
  ),
  fc.record({ type: fc.constant('ping' as const), seq: u32, ts: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  fc.record({ type: fc.constant('pong' as const), seq: u32, ts: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  fc.record({
    type: fc.constant('announce' as const),
    reset: fc.boolean(),
    added: fc.array(fc.record({ path: str(1, 64) }), { maxLength: 20 }),
    removed: fc.array(str(1, 64), { maxLength: 20 }),
  }),
  fc.record({ type: fc.constant('goaway' as const), code: u8, reason: str(0, 512) }),
  fc.record(
    { type: fc.constant('error' as const), code: u8, reason: str(0, 512), ref: fc.nat() },
    { requiredKeys: ['type', 'code', 'reason'] },
  ),
);

function isTyped(err: unknown): boolean {
  return (
    err instanceof ProtocolError &&
    [CloseCode.MalformedFrame, CloseCode.FrameTooLarge, CloseCode.UnknownFrameType].includes(err.code as 0x31 | 0x32 | 0x33)
  );
}

describe('control messages', () => {
  test('round trip of every message type', () => {
    fc.assert(
      fc.property(messageArb, (msg) => {
        const out = decodeOne(encodeControlMessage(msg));
        // -0 becomes 0 in JSON; compare through JSON
        assert.deepEqual(JSON.parse(JSON.stringify(out)), JSON.parse(JSON.stringify(msg)));
      }),
    );
  });

  test('unknown fields are ignored (forward compatibility)', () => {
    const payload = new TextEncoder().encode(JSON.stringify({ seq: 1, ts: 2, future: { x: 1 }, type: 'evil' }));
    const msg = decodeOne(encodeFrame(ControlFrameType.Ping, payload));
    assert.deepEqual(msg, { type: 'ping', seq: 1, ts: 2 });
  });

  test('schema violations are MalformedFrame with the field named but no value', () => {
    const payload = new TextEncoder().encode(
      JSON.stringify({ protocol: 1, name: '', version: 'x', secret: 'TOPSECRET' }),
    );
    try {
      decodeOne(encodeFrame(ControlFrameType.Hello, payload));
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ProtocolError);
      assert.equal(err.code, CloseCode.MalformedFrame);
      assert.match(err.message, /hello: invalid name/);
      assert.doesNotMatch(err.message, /TOPSECRET/);
    }
  });

  test('bad UTF-8, bad JSON, non-objects are MalformedFrame', () => {
    for (const bytes of [
      new Uint8Array([0xff, 0xfe]),
      new TextEncoder().encode('{"seq":'),
      new TextEncoder().encode('[1,2]'),
      new TextEncoder().encode('null'),
      new TextEncoder().encode('42'),
      new Uint8Array(0),
    ]) {
      assert.throws(
        () => decodeOne(encodeFrame(ControlFrameType.Ping, bytes)),
        (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.MalformedFrame,
      );
    }
  });

  test('welcome with timeout below interval is refused', () => {
    const payload = new TextEncoder().encode(
      JSON.stringify({
        protocol: 1, clientId: 1, clientName: 'a', serverName: 'b', serverVersion: '1',
        heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 500, features: [],
      }),
    );
    assert.throws(() => decodeOne(encodeFrame(ControlFrameType.Welcome, payload)), ProtocolError);
  });

  test('random payloads under every type: a message or a typed error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 200 }), (type, payload) => {
        try {
          decodeControlFrame({ type, payload });
        } catch (err) {
          assert.ok(isTyped(err), String(err));
        }
      }),
    );
  });

  test('mutated encodings of valid messages: a message or a typed error', () => {
    fc.assert(
      fc.property(
        messageArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (msg, mutations) => {
          const bytes = encodeControlMessage(msg);
          for (const [pos, val] of mutations) bytes[pos % bytes.byteLength] = val;
          const dec = new FrameDecoder({ maxFrameBytes: CONTROL_MAX_FRAME_BYTES, isKnownType: isControlFrameType });
          try {
            for (const f of dec.push(bytes)) decodeControlFrame(f);
            dec.finish();
          } catch (err) {
            assert.ok(isTyped(err), String(err));
          }
        },
      ),
    );
  });

  test('random JSON values under every type: a message or a typed error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.jsonValue(), (type, value) => {
        const payload = new TextEncoder().encode(JSON.stringify(value));
        try {
          decodeControlFrame({ type, payload });
        } catch (err) {
          assert.ok(isTyped(err), String(err));
        }
      }),
    );
  });

  test('an oversize message cannot be encoded', () => {
    assert.throws(
      () => encodeControlMessage({ type: 'goaway', code: 0, reason: 'x'.repeat(CONTROL_MAX_FRAME_BYTES) }),
      RangeError,
    );
  });
});

describe('announce chunking', () => {
  test('chunks fit a frame and the schema, keep order, reset only first', () => {
    // Characters JSON escapes (a lone surrogate becomes 6 bytes); control characters are refused in paths.
    const path = fc.string({ minLength: 1, maxLength: 512, unit: fc.constantFrom('a', 'é', '\\', '"', '😀'.charAt(0)) });
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(path, { maxLength: 400 }),
        fc.array(path, { maxLength: 400 }),
        fc.integer({ min: 2_000, max: CONTROL_MAX_FRAME_BYTES - 1024 }),
        (reset, addedPaths, removed, maxBytes) => {
          const added = addedPaths.map((p) => ({ path: p }));
          const chunks = chunkAnnounce({ reset, added, removed }, maxBytes);
          if (!reset && added.length + removed.length === 0) assert.equal(chunks.length, 0);
          chunks.forEach((c, i) => {
            assert.equal(c.reset, reset && i === 0);
            const bytes = encodeControlMessage(c);
            assert.ok(bytes.byteLength - 5 <= maxBytes, `${bytes.byteLength} > ${maxBytes}`);
            assert.deepEqual(decodeOne(bytes), c);
          });
          assert.deepEqual(chunks.flatMap((c) => c.added), added);
          assert.deepEqual(chunks.flatMap((c) => c.removed), removed);
        },
      ),
      { numRuns: 50 },
    );
  });

  test('a big announce splits over several frames', () => {
    const added = Array.from({ length: 3000 }, (_, i) => ({ path: `live/${'x'.repeat(100)}/${i}` }));
    const chunks = chunkAnnounce({ reset: true, added, removed: [] });
    assert.ok(chunks.length >= 3);
    for (const c of chunks) assert.ok(c.added.length <= 1000);
    assert.throws(() => chunkAnnounce({ reset: false, added: [{ path: '' }], removed: [] }), RangeError);
    assert.throws(() => chunkAnnounce({ reset: false, added: [], removed: ['x'.repeat(513)] }), RangeError);
  });
});
