// The UDP sockets under the lean QUIC driver: the native batch socket (recvmmsg,
// sendmmsg, GSO) and the node:dgram fallback, directly and through the transport.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  createLeanQuicTransport,
  generateSelfSignedIdentity,
  resolveUdpImplementation,
  type TlsIdentity,
} from '../../dataplane/transport/index.js';
import type { DatagramSocket } from '../../dataplane/transport/datagram-socket.js';
import { openDatagramSocket } from '../../dataplane/transport/udp-socket.js';
import { DEFAULT_UDP_ADDON_PATH } from '../../dataplane/transport/udp-native-socket.js';
import { readAll, sha256, startEchoServer, within } from './transport-helpers.js';

const MISSING_ADDON = '/nonexistent/udp_batch.node';
let identity: TlsIdentity | null = null;

async function tls(): Promise<TlsIdentity> {
  identity ??= await generateSelfSignedIdentity('udp-socket-test');
  return identity;
}

function open(kind: 'native' | 'dgram', host = '127.0.0.1', port = 0, family: 4 | 6 = 4): Promise<DatagramSocket> {
  return openDatagramSocket({
    implementation: kind,
    addonPath: DEFAULT_UDP_ADDON_PATH,
    family,
    host,
    port,
    bufferBytes: 4 * 1024 * 1024,
    onError: () => undefined,
    logger: null,
  });
}

/** Echo a 2 MB stream over a fresh listener and link; returns which socket each side used. */
async function echoOver(server: Parameters<typeof createLeanQuicTransport>[0], client: Parameters<typeof createLeanQuicTransport>[0]): Promise<string> {
  const echo = await startEchoServer(createLeanQuicTransport(server), await tls());
  try {
    const link = await within(
      createLeanQuicTransport(client).connect({ host: '127.0.0.1', port: echo.port, caPem: (await tls()).certPem }),
      5_000,
      'connect',
    );
    const s = await link.openStream();
    const data = randomBytes(2_000_000);
    const reply = readAll(s);
    await s.write(data);
    await s.end();
    assert.equal(sha256(await within(reply, 20_000, 'echo')), sha256(data));
    await link.close();
    return echo.listener.udp;
  } finally {
    await echo.close();
  }
}

test('auto picks the native socket when the addon is built, dgram when it is missing; native insists', () => {
  assert.equal(resolveUdpImplementation('auto', DEFAULT_UDP_ADDON_PATH, null), 'native', 'run `npm run build:native`');
  assert.equal(resolveUdpImplementation('auto', MISSING_ADDON, null), 'dgram');
  assert.equal(resolveUdpImplementation('dgram', DEFAULT_UDP_ADDON_PATH, null), 'dgram');
  assert.throws(() => resolveUdpImplementation('native', MISSING_ADDON, null), /quic.udp is "native" but the UDP batch addon did not load/);
  assert.throws(() => createLeanQuicTransport({ udp: 'fast' as never }), /udp must be auto, native or dgram/);
});

test('without the addon, auto falls back to node:dgram and links work end to end', async () => {
  const used = await echoOver({ udp: 'auto', udpAddonPath: MISSING_ADDON }, { udp: 'auto', udpAddonPath: MISSING_ADDON });
  assert.equal(used, 'dgram');
});

test('a native server and a dgram client (and the reverse) interoperate', async () => {
  assert.equal(await echoOver({ udp: 'native' }, { udp: 'dgram' }), 'native');
  assert.equal(await echoOver({ udp: 'dgram' }, { udp: 'native' }), 'dgram');
});

for (const kind of ['native', 'dgram'] as const) {
  test(`${kind}: a batch of mixed-size datagrams (GSO runs, strided and packed) arrives intact with the sender's address`, async () => {
    const rx = await open(kind);
    const tx = await open(kind);
    try {
      const got: { data: Buffer; host: string; port: number }[] = [];
      let wake: (() => void) | null = null;
      // Copy: the native socket reuses its receive slots after the handler returns.
      rx.onMessage = (msg, host, port) => {
        got.push({ data: Buffer.from(msg), host, port });
        wake?.();
      };
      // Runs of equal sizes with a shorter last one (GSO), single odd sizes, an empty datagram.
      const sizes = [1350, 1350, 1350, 700, 1350, 1350, 1200, 1, 0, 9000, 1350, ...Array<number>(70).fill(1300), 17];
      const stride = 9000;
      const data = randomBytes(stride * sizes.length);
      const lens = Int32Array.from(sizes);
      tx.sendBatch(data, lens, sizes.length, stride, rx.address());
      const packed = Buffer.concat(sizes.map((n, i) => data.subarray(i * stride, i * stride + n)));
      tx.sendBatch(packed, lens, sizes.length, 0, rx.address());
      const deadline = Date.now() + 5_000;
      while (got.length < 2 * sizes.length && Date.now() < deadline) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      assert.equal(got.length, 2 * sizes.length, 'every datagram arrives (loopback, large buffers)');
      const expected = [...sizes.keys(), ...sizes.keys()].map((i) => data.subarray(i * stride, i * stride + (sizes[i] ?? 0)));
      // Loopback keeps the order of one sender's datagrams.
      got.forEach((g, i) => {
        assert.deepEqual(g.data, expected[i], `datagram ${i}`);
        assert.equal(g.host, '127.0.0.1');
        assert.equal(g.port, tx.address().port);
      });
    } finally {
      await Promise.all([rx.close(), tx.close()]);
    }
  });

  test(`${kind}: bind errors reject clearly; close is safe twice and sends after close are ignored`, async () => {
    const a = await open(kind);
    await assert.rejects(open(kind, '127.0.0.1', a.address().port), /EADDRINUSE/);
    await assert.rejects(open(kind, '::1', 0, 4), /./);
    const v6 = await open(kind, '::1', 0, 6);
    assert.equal(v6.address().host, '::1');
    await v6.close();
    await a.close();
    await a.close();
    a.sendBatch(Buffer.alloc(10), Int32Array.of(10), 1, 0, { host: '127.0.0.1', port: 9 });
  });
}

test('native: a connected socket sends without a destination and hears only its peer', async () => {
  const server = await open('native');
  const stranger = await open('native');
  const client = await open('native');
  try {
    await client.connect('127.0.0.1', server.address().port);
    const heard: string[] = [];
    client.onMessage = (msg) => void heard.push(msg.toString());
    server.onMessage = (msg, host, port) => {
      assert.equal(msg.toString(), 'ping');
      server.sendBatch(Buffer.from('pong'), Int32Array.of(4), 1, 0, { host, port });
      stranger.sendBatch(Buffer.from('spam'), Int32Array.of(4), 1, 0, { host, port });
    };
    client.sendBatch(Buffer.from('ping'), Int32Array.of(4), 1, 0, null);
    const deadline = Date.now() + 2_000;
    while (heard.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(heard, ['pong']);
  } finally {
    await Promise.all([server.close(), stranger.close(), client.close()]);
  }
});

for (const kind of ['native', 'dgram'] as const) {
  test(`${kind}: ICMP port unreachable on a connected socket reaches onError, never throws`, async () => {
    const gone = await open(kind);
    const port = gone.address().port;
    await gone.close(); // nobody listens there now
    const errors: string[] = [];
    const s = await openDatagramSocket({
      implementation: kind,
      addonPath: DEFAULT_UDP_ADDON_PATH,
      family: 4,
      host: '127.0.0.1',
      port: 0,
      bufferBytes: 65536,
      onError: (err) => void errors.push((err as NodeJS.ErrnoException).code ?? err.message),
      logger: null,
    });
    try {
      await s.connect('127.0.0.1', port);
      const deadline = Date.now() + 2_000;
      while (!errors.includes('ECONNREFUSED') && Date.now() < deadline) {
        s.sendBatch(Buffer.alloc(300), Int32Array.of(100, 100, 100), 3, 100, null);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(errors.includes('ECONNREFUSED'), `errors seen: ${errors.join(', ')}`);
    } finally {
      await s.close();
    }
  });
}

test('native: terminating a worker thread with its sockets open (and one closed) does not take the process down', async () => {
  const { Worker } = await import('node:worker_threads');
  const code = `
    const { createRequire } = require('node:module');
    const { parentPort, workerData } = require('node:worker_threads');
    const addon = createRequire(workerData)(workerData);
    const noop = () => {};
    const open = () => addon.open({ family: 4, host: '127.0.0.1', port: 0, bufferBytes: 65536, slots: 8, gro: true,
      onBatch: noop, onWritable: noop, onError: noop, onClose: noop });
    const a = open(), b = open();
    addon.send(a, Buffer.alloc(10), Int32Array.of(10), 1, 0, '127.0.0.1', addon.address(b).port);
    open();
    addon.close(b);
    parentPort.postMessage('opened');
  `;
  for (let i = 0; i < 3; i++) {
    const w = new Worker(code, { eval: true, workerData: DEFAULT_UDP_ADDON_PATH });
    const msg = await within(new Promise((resolve, reject) => w.once('message', resolve).once('error', reject)), 5_000, 'worker');
    assert.equal(msg, 'opened');
    // Open sockets keep the worker alive (as dgram sockets do): end it from outside.
    const exit = await within(w.terminate(), 5_000, 'worker terminate');
    assert.equal(exit, 1);
  }
});
