/**
 * The node as a service (src/main.ts): a stop request delivered twice at once —
 * a process-group kill from npm, systemd or a test harness, or one Ctrl-C that npm
 * also forwards — still stops cleanly with exit 0; a second signal later (SIGTERM
 * after 2 s, a person's second Ctrl-C) forces the exit while a stop hangs.
 *
 * A stop is made to hang for real: the node is a cascade server on PostgreSQL
 * through a TCP proxy, a lower node is linked, and the proxy is frozen (a hung
 * database server): on stop, the link-down status update waits for the database
 * (the cascade server waits up to 5 s for it).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import type { UpperLink } from '../../dataplane/cascade/index.js';
import { lightClient, waitState } from '../helpers/captured-node.js';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.js';
import { startProcessNode, writeConfig, type ProcessNode } from '../helpers/process-node.js';
import { killGroup } from '../helpers/processes.js';
import { PG_ADMIN_URL, requirePostgres } from '../helpers/requirements.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const dir = tempDir('sc-signals-');
after(() => removeDir(dir));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const msgs = (n: ProcessNode): string[] => n.lines.map((l) => String(l.msg));

/** Waits for the exit and checks it was the clean stop: exit 0, "stopping" and "node stopped" logged, not forced. */
async function assertCleanStop(node: ProcessNode): Promise<string[]> {
  const code = await node.exited;
  const m = msgs(node);
  // A repeat that lands after the clean stop, while the process is already exiting
  // (libuv has closed its signal handles and SIGTERM's default action is back), ends
  // it by that signal a few milliseconds early: the stop itself ran to its end.
  const killedWhileExiting = code === null && node.child.signalCode === 'SIGTERM' && m.includes('node stopped');
  assert.ok(code === 0 || killedWhileExiting, `exit code ${code}, signal ${node.child.signalCode}; stderr: ${node.stderr}`);
  assert.ok(m.includes('stopping'), 'logged "stopping"');
  assert.ok(m.includes('node stopped'), 'the clean stop ran to its end');
  assert.ok(!m.includes('second signal: exiting now'), 'not forced');
  return m;
}

function nodeConfig(name: string, database?: string, extra: Record<string, unknown> = {}): string {
  return writeConfig(path.join(dir, `${name}.yaml`), {
    name,
    datadir: path.join(dir, name),
    http: { listenaddr: '127.0.0.1:0' },
    rtmp: { listenaddr: '127.0.0.1:0' },
    database: { url: database ?? 'pglite://memory' },
    log: { level: 'info' },
    ...extra,
  });
}

describe('signals: one stop request delivered twice stops cleanly', { concurrency: true }, () => {
  test('SIGTERM to the process group, and again as soon as it is stopping: one clean stop, exit 0', async () => {
    const node = await startProcessNode(nodeConfig('twice-sigterm', undefined, { log: { level: 'debug' } }));
    await node.waitLog((l) => l.msg === 'node started');
    // A request still being received keeps the stop going (the HTTP server gives it 1 s),
    // so the repeat lands while the node is stopping however late this loaded test
    // process sees "stopping"; an idle node stops in milliseconds.
    const { port } = new URL(node.httpUrl);
    const held = net.connect(Number(port), '127.0.0.1');
    held.on('error', () => {});
    held.write('POST /api/cascade/clients HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    try {
      await node.waitLog((l) => l.msg === 'request' && l.method === 'POST');
      killGroup(node.child.pid!, 'SIGTERM');
      await node.waitLog((l) => l.msg === 'stopping');
      killGroup(node.child.pid!, 'SIGTERM');
      const m = await assertCleanStop(node);
      assert.ok(m.includes('signal repeated while stopping: still stopping cleanly'), 'the repeat is logged and ignored');
    } finally {
      held.destroy();
    }
  });

  test('SIGINT twice back to back (one Ctrl-C seen by npm and forwarded): clean stop, exit 0', async () => {
    const node = await startProcessNode(nodeConfig('burst-sigint'));
    await node.waitLog((l) => l.msg === 'node started');
    // The kernel may merge the two into one delivery; either way the stop is clean.
    killGroup(node.child.pid!, 'SIGINT');
    killGroup(node.child.pid!, 'SIGINT');
    await assertCleanStop(node);
  });
});

const gate = await requirePostgres();

describe('signals: a later second signal forces the exit of a hanging stop', { concurrency: true, ...gate }, () => {
  const dbs: TestDatabase[] = [];
  const proxies: TcpProxy[] = [];
  after(async () => {
    for (const p of proxies) await p.close();
    for (const db of dbs) await db.drop().catch(() => undefined);
  });

  const clients: UpperLink[] = [];
  after(async () => {
    for (const c of clients) await c.stop();
  });

  /** A cascade server on PostgreSQL through a proxy, a lower node linked, then the proxy frozen. */
  async function hangingNode(name: string): Promise<ProcessNode> {
    const db = await createPostgresDatabase();
    dbs.push(db);
    const admin = new URL(PG_ADMIN_URL);
    const proxy = await startTcpProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
    proxies.push(proxy);
    const url = new URL(db.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const node = await startProcessNode(nodeConfig(name, url.toString(), { 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } }));
    const quic = await node.waitLog((l) => l.msg === 'cascade server listening (QUIC)');
    const addr = String(quic.address);
    const lower = lightClient(
      { host: '127.0.0.1', port: Number(addr.slice(addr.lastIndexOf(':') + 1)) },
      String(quic.fingerprint),
      `${name}-secret`,
      `${name}-lower`,
    );
    clients.push(lower);
    lower.start();
    await waitState(lower, (st) => st.state === 'online', 30_000);
    await node.waitLog((l) => l.msg === 'node started');
    proxy.freeze();
    return node;
  }

  const cases: { first: NodeJS.Signals; second: NodeJS.Signals; afterMs: number; why: string }[] = [
    { first: 'SIGTERM', second: 'SIGTERM', afterMs: 2_500, why: 'SIGTERM again after 2.5 s' },
    { first: 'SIGINT', second: 'SIGINT', afterMs: 600, why: "a person's second Ctrl-C after 0.6 s" },
  ];
  for (const c of cases) {
    test(`${c.why}: exit 1 at once, the stop left unfinished`, async () => {
      const node = await hangingNode(`forced-${c.first.toLowerCase()}`);
      try {
        killGroup(node.child.pid!, c.first);
        await node.waitLog((l) => l.msg === 'stopping');
        await sleep(c.afterMs);
        assert.equal(node.child.exitCode, null, 'the stop still hangs before the second signal');
        const sentAt = performance.now();
        killGroup(node.child.pid!, c.second);
        const code = await node.exited;
        const ms = performance.now() - sentAt;
        assert.equal(code, 1, `forced exit code; stderr: ${node.stderr}`);
        // Not the 10 s bound of a clean stop (which logs its own line).
        assert.ok(ms < 8_000, `exited ${Math.round(ms)} ms after the second signal`);
        const m = msgs(node);
        assert.ok(m.includes('second signal: exiting now'), 'the forced exit is logged');
        assert.ok(!m.includes('node stopped'), 'the clean stop did not finish');
      } finally {
        await node.stop('SIGKILL');
      }
    });
  }
});
