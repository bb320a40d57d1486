/**
 * Anonymous denial of service on the cascade port: a flood of QUIC
 * Initials from many source addresses (as a spoofing attacker would send) turns
 * address validation (Retry) on by itself (`quic.retry: auto`, the default):
 * new handshakes then cost the node no state until the client proves its
 * address. The existing link keeps its session and a new lower node still gets
 * in, through the Retry.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { lightClient, startCapturedNode, waitState, type CapturedNode } from '../helpers/captured-node.js';
import { waitFor } from '../helpers/node.js';
import { makeClientInitial } from './transport-helpers.js';

function bind(host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, host, () => resolve(s));
  });
}

const send = (s: Socket, b: Buffer, port: number): Promise<void> =>
  new Promise((resolve, reject) => s.send(b, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));

describe('QUIC: handshake flood', () => {
  const nodes: CapturedNode[] = [];
  const sockets: Socket[] = [];
  after(async () => {
    for (const s of sockets) s.close();
    for (const n of nodes.reverse()) await n.stop().catch(() => undefined);
  });

  test('Initials from ten addresses: Retry turns on by itself and answers the flood, the link stays, a new lower node gets in', async () => {
    const hq = await startCapturedNode({ name: 'hq', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } }, 'pglite://memory', 'info');
    nodes.push(hq);
    const quic = hq.app.addresses.quic!;
    const fp = hq.app.services.node.fingerprint!;
    const live = lightClient(quic, fp, 'live-secret-value', 'live');
    live.start();
    try {
      const before = await waitState(live, (s) => s.state === 'online');

      // 10 addresses x 12 Initials: each address under its bound of 16 handshakes, together past
      // the flood level (a quarter of the 256 handshakes allowed at once).
      let retries = 0;
      for (let a = 2; a <= 11; a++) {
        const s = await bind(`127.0.0.${a}`);
        sockets.push(s);
        s.on('message', (m: Buffer) => {
          if (((m[0] ?? 0) & 0xf0) === 0xf0) retries++; // long header, type Retry
        });
        for (let i = 0; i < 12; i++) await send(s, makeClientInitial(quic.port, s.address().port, `127.0.0.${a}`), quic.port);
      }
      const on = await waitFor(() => hq.logs.find((l) => l.msg === 'QUIC handshake flood: address validation (Retry) on'), 30_000, 'Retry on');
      assert.ok(Number(on.pendingHandshakes) >= 64, JSON.stringify(on));
      await waitFor(() => retries > 0, 30_000, 'Retry packets to the flood');

      // While it is on: a new lower node gets in (its client follows the Retry), the old link is untouched.
      const late = lightClient(quic, fp, 'late-secret-value', 'late');
      late.start();
      try {
        await waitState(late, (s) => s.state === 'online');
      } finally {
        await late.stop();
      }
      const now = live.status();
      assert.equal(now.state, 'online');
      assert.equal(now.since.getTime(), before.since.getTime(), 'the same session');
      assert.equal(hq.logs.filter((l) => l.msg === 'cascade client online' && l.name === 'live').length, 1, 'one session of the old link');
    } finally {
      await live.stop();
    }
  });
});
