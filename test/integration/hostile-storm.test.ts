/**
 * Connection storm: many lower nodes connecting at once (as after an HQ
 * restart) are admitted at a bounded rate; the excess is closed with `Busy`
 * and comes back by itself with backoff, until every client is online.
 * (`npm run bench:storm` is the full-size version against a real node process.)
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import {
  AdmissionBucket,
  UpperLink,
  CascadeServer,
  closeCodeInfo,
  CloseCode,
  type AuthenticateRequest,
  type AuthenticateResult,
  type CascadeAuthority,
} from '../../dataplane/cascade/index.js';
import { defaultTransport, fingerprintOfPem, generateSelfSignedIdentity } from '../../dataplane/transport/index.js';
import { waitFor } from '../helpers/node.js';

const silent = pino({ level: 'silent' });

/** Autoregisters everyone; no database. */
class OpenAuthority implements CascadeAuthority {
  private next = 1;
  private readonly ids = new Map<string, number>();
  async authenticate(req: AuthenticateRequest): Promise<AuthenticateResult> {
    const key = req.secret ?? req.name;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.next++;
      this.ids.set(key, id);
    }
    return { ok: true, clientId: id, name: req.name };
  }
  async linkUp(): Promise<void> {}
  async linkDown(): Promise<void> {}
}

describe('hostile: connection storm', () => {
  test('the admission bucket: burst, then the rate; unlimited when the rate is 0', () => {
    let now = 0;
    const b = new AdmissionBucket({ ratePerSec: 10, burst: 5 }, () => now);
    const taken = (n: number): number => Array.from({ length: n }, () => b.take()).filter(Boolean).length;
    assert.equal(taken(8), 5);
    now += 100; // one token per 100 ms
    assert.equal(taken(3), 1);
    now += 10_000; // refills up to the burst, not beyond
    assert.equal(taken(10), 5);
    assert.deepEqual(b.stats, { admitted: 11, refused: 10 });
    assert.equal(b.takeRefusedSinceReport(), 10);
    assert.equal(b.takeRefusedSinceReport(), 0);
    const open = new AdmissionBucket({ ratePerSec: 0, burst: 0 }, () => now);
    assert.equal(Array.from({ length: 1000 }, () => open.take()).every(Boolean), true);
    assert.equal(closeCodeInfo(CloseCode.Busy).retry, 'backoff');
  });

  test('40 clients at once against rate 20/s, burst 10: admitted within the bound, the rest retried until all are online', async () => {
    const identity = await generateSelfSignedIdentity();
    const RATE = 20;
    const BURST = 10;
    const N = 40;
    const server = new CascadeServer({
      transport: defaultTransport,
      listen: { host: '127.0.0.1', port: 0 },
      tls: identity,
      authority: new OpenAuthority(),
      logger: silent,
      serverName: 'hq',
      version: 'test',
      limits: { admissionRatePerSec: RATE, admissionBurst: BURST },
    });
    const onlineAt: number[] = [];
    server.on('online', () => void onlineAt.push(Date.now()));
    const { port } = await server.start();
    const clients: UpperLink[] = [];
    const busySeen = new Set<number>();
    try {
      const t0 = Date.now();
      for (let i = 0; i < N; i++) {
        const c = new UpperLink({
          transport: defaultTransport,
          server: { host: '127.0.0.1', port },
          secret: `storm-${i}`,
          name: `storm-${i}`,
          version: 'test',
          verify: { fingerprint: fingerprintOfPem(identity.certPem) },
          logger: silent,
          timing: { backoffInitialMs: 250, backoffMaxMs: 2_000, backoffJitter: 0.5 },
        });
        c.on('stateChanged', (s) => {
          if (s.lastErrorCode === CloseCode.Busy) busySeen.add(i);
          assert.notEqual(s.state, 'rejected', `client ${i} rejected: ${s.lastError}`);
        });
        clients.push(c);
        c.start();
      }
      await waitFor(() => server.sessions().length === N, 30_000, `${N} online`);
      const allMs = Date.now() - t0;
      const { admitted, refused } = server.admissionStats;
      assert.ok(refused > 0 && busySeen.size > 0, 'the storm was refused in part');
      assert.equal(admitted, N, 'each client admitted once');
      // Never more links admitted than the bucket allows (one token of slack for timing).
      for (let k = 0; k < onlineAt.length; k++) {
        const elapsed = (onlineAt[k]! - t0) / 1000;
        assert.ok(k + 1 <= BURST + RATE * elapsed + 1, `${k + 1} online after ${elapsed.toFixed(2)} s`);
      }
      process.stdout.write(`# storm: ${N} clients online after ${allMs} ms, ${refused} connections refused Busy, ${busySeen.size} clients backed off\n`);
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
      await server.stop();
    }
  });
});
