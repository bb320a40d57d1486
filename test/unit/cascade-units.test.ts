/** Pure parts of the cascade session layer: backoff, throttle, known-servers file. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import {
  AuthThrottle,
  backoffDelay,
  DEFAULT_BACKOFF,
  KnownServersFile,
  parseKnownServers,
  serverKey,
} from '../../dataplane/cascade/index.js';
import { Emitter } from '../../dataplane/events.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const FP_A = `sha256:${'a'.repeat(64)}`;
const FP_B = `sha256:${'b'.repeat(64)}`;

describe('backoff', () => {
  test('0.5 s doubling to 30 s, jitter only shortens', () => {
    const noJitter = (n: number): number => backoffDelay(n, DEFAULT_BACKOFF, () => 0);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 100].map(noJitter), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 10_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, r) => {
        const d = backoffDelay(n, DEFAULT_BACKOFF, () => r);
        const base = noJitter(n);
        assert.ok(d <= base && d >= Math.floor(base * 0.8), `${n} ${r} ${d}`);
      }),
    );
  });
});

describe('auth throttle', () => {
  test('refuses after the limit within a window, reports once, forgets after the window', () => {
    let now = 1_000;
    const th = new AuthThrottle({ limit: 3, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(th.check('10.0.0.1'), { throttled: false });
      th.recordFailure('10.0.0.1');
    }
    const v1 = th.check('10.0.0.1');
    assert.ok(v1.throttled && v1.first && v1.retryAfterMs === 10_000);
    const v2 = th.check('10.0.0.1');
    assert.ok(v2.throttled && !v2.first);
    assert.deepEqual(th.check('10.0.0.2'), { throttled: false });
    now += 10_000;
    assert.deepEqual(th.check('10.0.0.1'), { throttled: false });
  });

  test('auto-registration: per address, per window in all, by rate; counted and reported once per bound', () => {
    let now = 0;
    const th = new AuthThrottle({ limit: 10, windowMs: 60_000, registration: { perAddress: 2, perWindow: 3, ratePerSec: 1, burst: 2, windowMs: 3_600_000 } }, () => now);
    assert.deepEqual(th.admitRegistration('10.0.0.1'), { ok: true });
    assert.deepEqual(th.admitRegistration('10.0.0.2'), { ok: true });
    const rate = th.admitRegistration('10.0.0.3');
    assert.ok(!rate.ok && rate.scope === 'rate' && rate.first, 'burst used up');
    now += 1_000;
    assert.deepEqual(th.admitRegistration('10.0.0.1'), { ok: true });
    now += 1_000;
    const perAddress = th.admitRegistration('10.0.0.1');
    assert.ok(!perAddress.ok && perAddress.scope === 'address' && perAddress.first && perAddress.retryAfterMs === 3_600_000 - 2_000);
    const again = th.admitRegistration('10.0.0.1');
    assert.ok(!again.ok && !again.first, 'reported once per address');
    const perWindow = th.admitRegistration('10.0.0.4');
    assert.ok(!perWindow.ok && perWindow.scope === 'window');
    assert.deepEqual(th.registrationStats, { created: 3, refused: 4, createdInWindow: 3, windowStartedAt: new Date(0) });
    now = 3_600_000;
    assert.deepEqual(th.admitRegistration('10.0.0.1'), { ok: true }, 'a new window');
    assert.equal(th.registrationStats.createdInWindow, 1);
  });

  test('auto-registration bounds of 0 are off', () => {
    const th = new AuthThrottle({ limit: 10, windowMs: 60_000, registration: { perAddress: 0, perWindow: 0, ratePerSec: 0, burst: 1 } });
    for (let i = 0; i < 1_000; i++) assert.deepEqual(th.admitRegistration('10.0.0.1'), { ok: true });
  });

  test('bounded memory', () => {
    const th = new AuthThrottle({ limit: 1, windowMs: 60_000, maxEntries: 100 });
    for (let i = 0; i < 1_000; i++) th.admitRegistration(`10.1.${i >> 8}.${i & 255}`);
    for (let i = 0; i < 1_000; i++) th.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    assert.ok(th.size <= 100);
  });
});

describe('known servers', () => {
  test('server keys bracket IPv6', () => {
    assert.equal(serverKey('10.1.2.3', 44944), '10.1.2.3:44944');
    assert.equal(serverKey('::1', 44944), '[::1]:44944');
    assert.equal(serverKey('hq.example', 1), 'hq.example:1');
  });

  test('parsing skips comments, blanks and garbage; first entry wins; fingerprints normalised', () => {
    const m = parseKnownServers(
      [
        '# header',
        '',
        `hq:44944 ${FP_A.toUpperCase().replace('SHA256', 'sha256')} # first seen x`,
        `hq:44944 ${FP_B}`,
        'garbage line with too many fields',
        'nofp',
        `[::1]:1 ${FP_B}`,
        'x:1 sha256:zz',
      ].join('\n'),
    );
    assert.deepEqual([...m.keys()], ['hq:44944', '[::1]:1']);
    assert.deepEqual(m.get('hq:44944'), { fingerprint: FP_A, comment: 'first seen x' });
  });

  test('random text never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 500 }), (s) => void parseKnownServers(s)));
  });

  test('file: added, trusted, mismatch; other lines kept', async () => {
    const dir = tempDir('known-');
    try {
      const path = join(dir, 'sub', 'known-servers');
      const f = new KnownServersFile(path);
      assert.deepEqual(await f.check('hq:1', FP_A), { status: 'added' });
      assert.deepEqual(await f.check('hq:1', FP_A), { status: 'trusted' });
      const r = await f.check('hq:1', FP_B);
      assert.equal(r.status, 'mismatch');
      assert.ok(r.status === 'mismatch' && r.trusted === FP_A && r.comment.startsWith('first seen'));
      await writeFile(path, `# mine\nother:2 ${FP_B}`);
      assert.deepEqual(await f.check('hq:1', FP_B), { status: 'added' });
      const text = await readFile(path, 'utf8');
      assert.match(text, /^# mine\nother:2 sha256:b+\nhq:1 sha256:b+ # first seen /);
      await assert.rejects(f.check('hq:3', 'not-a-fingerprint'));
    } finally {
      removeDir(dir);
    }
  });
});

describe('event emitter', () => {
  test('a throwing or rejecting listener is logged; the others still run', async () => {
    const logged: string[] = [];
    const logger = pino({ level: 'error' }, { write: (s: string) => void logged.push(s) });
    class E extends Emitter<{ ping: [n: number] }> {
      fire(n: number): void {
        this.emit('ping', n);
      }
    }
    const e = new E(logger);
    const seen: number[] = [];
    e.on('ping', () => {
      throw new Error('boom');
    });
    e.on('ping', async () => {
      throw new Error('async boom');
    });
    e.on('ping', (n) => void seen.push(n));
    e.once('ping', (n) => void seen.push(n * 10));
    e.fire(1);
    e.fire(2);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [1, 10, 2]);
    assert.equal(logged.filter((l) => l.includes('event listener threw')).length, 4);
  });
});
