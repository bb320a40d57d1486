/**
 * An HQ and an edge as real processes in two network namespaces joined by a
 * veth pair: a real network path, not loopback. With tc netem (where the
 * kernel has sch_netem): 2 % loss and 50 ms delay on each end → the link stays
 * up and its RTT shows the delay. Always (where namespaces are allowed): the
 * veth link is taken down for 4 s → HQ marks the edge offline, and the edge is
 * back online by itself once the link is up again.
 *
 * Skipped with a printed reason where `ip netns add` is not permitted (not root,
 * no CAP_NET_ADMIN); required wherever it is. Everything created is removed.
 * (Streams over such a link — no stall over 1 s — belong to the forwarding tests.)
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createNetnsPair, probeNetns, type NetnsPair } from '../helpers/netns.js';
import { onJsonLines } from '../helpers/json-lines.js';
import { NODE_ARGS, ROOT, START_TIMEOUT_MS, writeConfig } from '../helpers/process-node.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const support = probeNetns();
if (!support.netns) process.stdout.write(`# SKIP network namespaces: ${support.reason}\n`);
else if (!support.netem) process.stdout.write(`# netem part skipped: ${support.reason} (loss/delay are covered by fault-impaired-link)\n`);

interface NsProcess {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr(): string;
  waitLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs: number, since?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

function startIn(pair: NetnsPair, which: 'a' | 'b', configFile: string): NsProcess {
  const child = pair.spawnIn(which, [process.execPath, ...NODE_ARGS, '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  onJsonLines(child.stdout!, (l) => lines.push(l));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    child,
    lines,
    stderr: () => stderr,
    async waitLog(pred, timeoutMs, since = 0) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.slice(since).find(pred);
        if (hit) return hit;
        if (Date.now() > end || child.exitCode !== null) throw new Error(`no matching log line within ${timeoutMs} ms; last lines: ${lines.slice(-6).map((l) => JSON.stringify(l).slice(0, 300)).join('\n')}; stderr: ${stderr.slice(-1500)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs a GraphQL query against a node's HTTP port from inside its namespace. */
async function gqlIn(pair: NetnsPair, which: 'a' | 'b', port: number, query: string): Promise<unknown> {
  const script = `fetch('http://127.0.0.1:${port}/graphql',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({query:${JSON.stringify(query)}})}).then(r=>r.text()).then(t=>process.stdout.write(t))`;
  const child = pair.spawnIn(which, [process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await new Promise<void>((r) => child.on('exit', () => r()));
  clearTimeout(t);
  return JSON.parse(out) as unknown;
}

/** Takes one end's veth down for 4 s; returns when HQ saw the edge go offline and come back. */
async function cutAndHeal(p: NetnsPair, hq: NsProcess, edge: NsProcess, end: 'a' | 'b', healWithinMs = 20_000): Promise<{ detectMs: number; healMs: number }> {
  const mark = hq.lines.length;
  p.setLink(false, end);
  const cutAt = Date.now();
  await hq.waitLog((l) => l.msg === 'cascade client offline', 6_000, mark);
  const detectMs = Date.now() - cutAt;
  await new Promise((r) => setTimeout(r, Math.max(0, 4_000 - (Date.now() - cutAt))));
  const mark2 = hq.lines.length;
  p.setLink(true, end);
  const upAt = Date.now();
  await hq.waitLog((l) => l.msg === 'cascade client online', healWithinMs, mark2).catch((err: unknown) => {
    const exit = edge.child.exitCode ?? edge.child.signalCode;
    throw new Error(
      `${String(err)}\nedge ${exit === null ? 'running' : `exited (${exit})`}: ${edge.lines.slice(-4).map((l) => JSON.stringify(l).slice(0, 300)).join('\n')}\n${edge.stderr().slice(-800)}`,
    );
  });
  assert.ok(detectMs <= 3_500, `offline after ${detectMs} ms`);
  return { detectMs, healMs: Date.now() - upAt };
}

const portOf = (l: Record<string, unknown>): number => Number(String(l.address).slice(String(l.address).lastIndexOf(':') + 1));

describe('fault: HQ and edge in network namespaces over veth', { skip: support.netns ? false : support.reason }, () => {
  const tmp = tempDir('sc-netns-');
  let pair: NetnsPair | null = null;
  const procs: NsProcess[] = [];
  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    pair?.destroy();
    removeDir(tmp);
  });

  test('link over veth: with netem 2 % loss / 50 ms it stays up with the RTT shown; a 4 s cut at the HQ end is noticed and healed', async () => {
    pair = createNetnsPair('f');
    const p = pair;
    const base = (name: string) => ({
      name,
      datadir: path.join(tmp, name),
      http: { listenaddr: '127.0.0.1:0' },
      rtmp: { listenaddr: '127.0.0.1:0' },
      database: { url: 'pglite://memory' },
      log: { level: 'info' },
    });
    const hq = startIn(p, 'a', writeConfig(path.join(tmp, 'hq.yaml'), { ...base('hq'), 'cascade-server': { quic: { listenaddr: `${p.a.addr}:7443` }, autoregister: true } }));
    procs.push(hq);
    await hq.waitLog((l) => l.msg === 'cascade server listening (QUIC)', START_TIMEOUT_MS);
    const edge = startIn(p, 'b', writeConfig(path.join(tmp, 'edge.yaml'), { ...base('edge'), 'cascade-client': { server: `${p.a.addr}:7443`, secret: 'netns-secret' } }));
    procs.push(edge);
    const edgeHttp = portOf(await edge.waitLog((l) => l.msg === 'HTTP listening (GraphQL and GraphiQL at /graphql)', START_TIMEOUT_MS));
    const online = await hq.waitLog((l) => l.msg === 'cascade client online', 60_000);
    assert.equal(online.remoteAddress, p.b.addr, 'the link comes over the veth path');

    if (support.netem) {
      p.netem(50, 2);
      const mark = hq.lines.length;
      await new Promise((r) => setTimeout(r, 8_000));
      assert.equal(hq.lines.slice(mark).filter((l) => l.msg === 'cascade client offline').length, 0, 'no drop under netem');
      const r = (await gqlIn(p, 'b', edgeHttp, '{ upstream { state rttMs } }')) as { data: { upstream: { state: string; rttMs: number | null } } };
      assert.equal(r.data.upstream.state, 'ONLINE');
      const rtt = r.data.upstream.rttMs ?? 0;
      assert.ok(rtt >= 95 && rtt < 500, `RTT ${rtt} ms under 50 ms each way`);
      process.stdout.write(`# netns + netem 50 ms / 2 % each end: link up for 8 s, RTT ${rtt} ms\n`);
      p.netem(0, 0);
    }

    // A real link cut at the HQ's end: its veth goes down for 4 s.
    const r1 = await cutAndHeal(p, hq, edge, 'a');
    process.stdout.write(`# netns link cut at the HQ end: HQ marked the edge offline after ${r1.detectMs} ms; online again ${r1.healMs} ms after the link came back\n`);
  });

  test(
    "link cut at the edge's own end (its interface down, no route to HQ) is healed",
    async () => {
      const p = pair!;
      const [hq, edge] = procs as [NsProcess, NsProcess];
      const r = await cutAndHeal(p, hq, edge, 'b', 12_000);
      process.stdout.write(`# netns link cut at the edge end: offline after ${r.detectMs} ms, online again ${r.healMs} ms after\n`);
    },
  );
});
