/**
 * Tests leave no process behind (test/helpers/processes.ts): a parallel start of
 * node processes where one fails stops the others, and a test process that exits
 * or is stopped by a signal takes its tracked process groups with it. Checked in
 * /proc by pid and process group.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from '../helpers/node.js';
import { ROOT, startProcessNodes, writeConfig } from '../helpers/process-node.js';
import { exitOf, spawnedPids, spawnTracked } from '../helpers/processes.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const dir = tempDir('sc-cleanup-');
after(() => removeDir(dir));

/** Live (not zombie) processes whose pid or process group is one of `pids`. */
function survivors(pids: readonly number[]): string[] {
  const want = new Set(pids);
  const out: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, , pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      if (want.has(Number(name)) || want.has(Number(pgid))) out.push(`pid ${name} pgid ${pgid}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function nodeConfig(name: string, extra: Record<string, unknown> = {}): string {
  return writeConfig(path.join(dir, `${name}.yaml`), {
    name,
    datadir: path.join(dir, name),
    http: { listenaddr: '127.0.0.1:0' },
    rtmp: { listenaddr: '127.0.0.1:0' },
    database: { url: 'pglite://memory' },
    ...extra,
  });
}

describe('a failed parallel start leaves no process', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  test('one of three nodes has a bad config: the start fails and the two others are stopped', async () => {
    const before = spawnedPids().length;
    const configs = [nodeConfig('ok-a'), nodeConfig('ok-b'), nodeConfig('bad', { http: { listenaddr: '127.0.0.1:99999' } })];
    await assert.rejects(startProcessNodes(configs), /node exited \(2\)/);
    const pids = spawnedPids().slice(before);
    assert.equal(pids.length, 3, 'three processes were started');
    assert.deepEqual(survivors(pids), [], 'nothing of that start is alive');
  });

  test('one of two nodes finds its port taken: the start fails and the other (up or starting) is stopped', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const before = spawnedPids().length;
      const configs = [nodeConfig('up-a'), nodeConfig('taken', { http: { listenaddr: `127.0.0.1:${port}` } })];
      await assert.rejects(startProcessNodes(configs), /cannot listen|EADDRINUSE|exited/);
      const pids = spawnedPids().slice(before);
      assert.equal(pids.length, 2);
      assert.deepEqual(survivors(pids), [], 'nothing of that start is alive');
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

describe('a test process that ends takes its processes with it', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  // A child test process spawns a tracked `sleep` (its own process group), prints its pid, then ends.
  const script = (end: string): string => `
    import { spawnTracked } from './test/helpers/processes.ts';
    const c = spawnTracked('sleep', ['300'], { stdio: 'ignore' });
    process.stdout.write(String(c.pid) + '\\n');
    ${end}
  `;
  const cases: [string, string, NodeJS.Signals | null][] = [
    ['process.exit(1) (a crash)', 'setTimeout(() => process.exit(1), 100);', null],
    ['an uncaught exception', "setTimeout(() => { throw new Error('boom'); }, 100);", null],
    ['SIGTERM (the runner stopping a file that timed out)', 'setInterval(() => undefined, 1000);', 'SIGTERM'],
    ['SIGINT (Ctrl-C)', 'setInterval(() => undefined, 1000);', 'SIGINT'],
  ];
  for (const [why, end, signal] of cases) {
    test(why, async () => {
      const child = spawnTracked(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(end)], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const sleeper = Number(await waitFor(() => /^(\d+)\n/.exec(out)?.[1], 60_000, 'the child to start sleep'));
      assert.deepEqual(survivors([sleeper]).length, 1, 'sleep runs in its own group');
      if (signal) child.kill(signal);
      await exitOf(child);
      await waitFor(() => survivors([sleeper]).length === 0, 10_000, `sleep (pid ${sleeper}) gone`);
    });
  }
});
