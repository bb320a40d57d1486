/**
 * 12 light lower nodes over 3 upper nodes of equal priority: each takes the server its
 * name hashes to (rendezvous), a kill -9 of one upper node moves only that server's
 * lower nodes (to their own next choice), and its return brings just those back after
 * `failback`.
 *
 * The lower nodes are light: an UpstreamSupervisor each (the real link code, real QUIC
 * links to the upper nodes, each its own name and secret) in the test process, not 12
 * full nodes with a database and listeners, which a 2-core machine shared with other
 * tests cannot start in reasonable time. The upper node that is killed is a process;
 * the other two are in-process nodes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import { UpstreamSupervisor } from '../../dataplane/cascade/index.js';
import { preferenceOrder } from '../../dataplane/cascade/link/upstream-selector.js';
import { defaultTransport } from '../../dataplane/transport/index.js';
import { startNode, waitFor } from '../helpers/node.js';
import { startProcessNode, writeConfig, type ProcessNode, writeNodeConfig } from '../helpers/process-node.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { stopAfterAll } from './forwarding-helpers.js';
import { freePort } from '../helpers/stream-faults.js';

const FAILBACK_MS = 2_000;
/** All 12 lower nodes register from 127.0.0.1: more than the default 10 per address and hour. */
const REGISTRATIONS = { peraddress: 100 };

describe('several upper nodes of equal priority: spread by rendezvous hashing', () => {
  const { keep, cleanups } = stopAfterAll();
  const tmp = tempDir('sc-spread-');
  const procs: ProcessNode[] = [];
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL').catch(() => {});
    removeDir(tmp);
  });

  test('12 lower nodes over 3 upper nodes; kill -9 of one moves only its nodes; its return brings them back', async (t) => {
    const quic1 = await freePort('udp');
    const cfg1 = writeNodeConfig(tmp, 'sp-up-1', {
      'cascade-server': { quic: { listenaddr: `127.0.0.1:${quic1}` }, autoregisterlimit: REGISTRATIONS },
    });
    const starting = startProcessNode(cfg1);
    const up2 = keep(await startNode({ name: 'sp-up-2', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, autoregisterlimit: REGISTRATIONS } }));
    const up3 = keep(await startNode({ name: 'sp-up-3', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, autoregisterlimit: REGISTRATIONS } }));
    let up1 = await starting;
    procs.push(up1);
    const keys = [`127.0.0.1:${quic1}`, `127.0.0.1:${up2.app.addresses.quic!.port}`, `127.0.0.1:${up3.app.addresses.quic!.port}`];
    const k1 = keys[0]!;
    const logger = pino({ level: 'silent' });
    const lowers = Array.from({ length: 12 }, (_, i) => {
      const name = `sp-region-${i + 1}`;
      const sup = new UpstreamSupervisor({
        transport: defaultTransport,
        servers: keys.map((k) => ({
          server: { host: '127.0.0.1', port: Number(k.split(':')[1]) },
          priority: 1,
          secret: randomBytes(16).toString('hex'),
          verify: { knownServersFile: path.join(tmp, `${name}.known-servers`) },
        })),
        failbackMs: FAILBACK_MS,
        probeIntervalMs: 1_000,
        name,
        version: 'test',
        logger,
        timing: { backoffInitialMs: 200, backoffMaxMs: 2_000 },
      });
      cleanups.push(() => sup.stop());
      const order = preferenceOrder(name, keys.map((key) => ({ key, priority: 1 }))).map((s) => s.key);
      return { name, sup, order };
    });
    for (const l of lowers) l.sup.start();
    const on = (l: (typeof lowers)[number]): string | null => (l.sup.status().state === 'online' ? l.sup.status().server : null);
    const counts = (): Record<string, number> => Object.fromEntries(keys.map((k) => [k, lowers.filter((l) => on(l) === k).length]));

    await waitFor(() => lowers.every((l) => on(l) === l.order[0]), 60_000, 'every lower node on its first choice');
    const initial = counts();
    t.diagnostic(`spread of the 12: ${keys.map((k) => initial[k]).join(' / ')} (a fair draw: 4 ± 1.6)`);
    for (const k of keys) assert.ok(initial[k]! >= 1, `every upper node has lower nodes: ${JSON.stringify(initial)}`);
    const ofUp1 = lowers.filter((l) => l.order[0] === k1);
    const others = lowers.filter((l) => l.order[0] !== k1);

    const killedAt = performance.now();
    up1.child.kill('SIGKILL');
    await up1.exited;
    await waitFor(() => ofUp1.every((l) => on(l) === l.order[1]), 20_000, "the killed server's nodes on their second choice");
    const movedIn = performance.now() - killedAt;
    for (const l of others) {
      assert.equal(on(l), l.order[0], `${l.name} did not move`);
      assert.equal(l.sup.overview().lastSwitch, null, `${l.name} never switched`);
    }
    for (const l of ofUp1) assert.match(l.sup.overview().lastSwitch!.reason, /^failover: /);
    const during = counts();
    t.diagnostic(`kill -9 of one: its ${ofUp1.length} moved in ${Math.round(movedIn)} ms; now ${keys.map((k) => during[k]).join(' / ')}`);

    const restartAt = performance.now();
    up1 = await startProcessNode(cfg1);
    procs.push(up1);
    await waitFor(() => ofUp1.every((l) => on(l) === k1), 30_000, 'back on the restarted server after failback');
    t.diagnostic(`restarted: its nodes back ${Math.round(performance.now() - restartAt)} ms after the restart began (failback ${FAILBACK_MS} ms)`);
    for (const l of ofUp1) assert.match(l.sup.overview().lastSwitch!.reason, /^failback: /);
    for (const l of others) assert.equal(l.sup.overview().lastSwitch, null, `${l.name} never switched`);
    assert.deepEqual(counts(), initial);
  });
});
