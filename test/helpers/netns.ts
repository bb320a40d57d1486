/**
 * Impaired links for fault tests.
 *
 * - {@link startUdpImpairment}: a userspace UDP relay on 127.0.0.1 that delays and
 *   drops datagrams (QUIC runs over it unchanged). Needs nothing from the system.
 * - {@link createNetnsPair}: two network namespaces joined by a veth pair (real
 *   interfaces, real link cuts with `ip link set down`), with tc netem delay/loss
 *   when the kernel has sch_netem. Needs root; {@link probeNetns} says what works.
 *   Everything created is removed by `destroy()` (and the names carry the pid).
 */
import { spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { spawnTracked } from './processes.js';
import dgram from 'node:dgram';

// ------------------------------------------------------------------ userspace

export interface UdpImpairment {
  readonly port: number;
  readonly stats: { forwarded: number; dropped: number };
  /** Change loss (0..1) and one-way delay (ms, each direction) at run time. */
  set(opts: { lossRate?: number; delayMs?: number; blackhole?: boolean }): void;
  close(): Promise<void>;
}

/**
 * A seeded PRNG (mulberry32), so a test's loss pattern is the same on every run:
 * with `Math.random` a short test at 2 % loss drops nothing about one run in five
 * (0.98^80), and a test that checks the loss happened fails at random.
 */
export function seededRandom(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Relays datagrams to `target`, each direction delayed by `delayMs` and dropped with `lossRate`.
 * The default `random` is {@link seededRandom}(5): at 2 % it drops datagrams 13, 21, 49, 59, …
 * (counted over both directions), so any link that gets past its handshake sees loss.
 */
export async function startUdpImpairment(opts: {
  target: { host: string; port: number };
  delayMs: number;
  lossRate: number;
  random?: () => number;
}): Promise<UdpImpairment> {
  let { delayMs, lossRate } = opts;
  let blackhole = false;
  const random = opts.random ?? seededRandom(5);
  const stats = { forwarded: 0, dropped: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const front = dgram.createSocket('udp4');
  const peers = new Map<string, dgram.Socket>();
  const later = (fn: () => void): void => {
    if (delayMs <= 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, delayMs);
    timers.add(t);
  };
  const pass = (): boolean => {
    if (blackhole || random() < lossRate) {
      stats.dropped++;
      return false;
    }
    stats.forwarded++;
    return true;
  };
  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let back = peers.get(key);
    if (!back) {
      const sock = dgram.createSocket('udp4');
      sock.on('message', (reply) => {
        if (pass()) later(() => front.send(reply, rinfo.port, rinfo.address));
      });
      sock.on('error', () => undefined);
      sock.bind(0, '127.0.0.1');
      peers.set(key, sock);
      back = sock;
    }
    const out = back;
    if (pass()) later(() => out.send(msg, opts.target.port, opts.target.host));
  });
  front.on('error', () => undefined);
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: front.address().port,
    stats,
    set(o) {
      if (o.lossRate !== undefined) lossRate = o.lossRate;
      if (o.delayMs !== undefined) delayMs = o.delayMs;
      if (o.blackhole !== undefined) blackhole = o.blackhole;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of peers.values()) s.close();
      peers.clear();
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
}

// ------------------------------------------------------------------ namespaces

function run(args: string[]): { ok: boolean; err: string } {
  const r = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, err: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

export interface NetnsSupport {
  /** `ip netns add` and veth pairs work. */
  netns: boolean;
  /** tc netem works inside a namespace. */
  netem: boolean;
  reason: string;
}

let probed: NetnsSupport | null = null;

/** Tries what the machine allows (once per process), cleaning up after itself. */
export function probeNetns(): NetnsSupport {
  if (probed) return probed;
  const ns = `scp${process.pid}`;
  const add = run(['ip', 'netns', 'add', ns]);
  if (!add.ok) {
    probed = { netns: false, netem: false, reason: `ip netns add is not permitted here (${add.err || 'failed'})` };
    return probed;
  }
  try {
    const veth = run(['ip', '-n', ns, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb']);
    if (!veth.ok) {
      probed = { netns: false, netem: false, reason: `veth pairs cannot be created (${veth.err})` };
      return probed;
    }
    const netem = run(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'pa', 'root', 'netem', 'delay', '1ms']);
    probed = {
      netns: true,
      netem: netem.ok,
      reason: netem.ok ? '' : `tc netem is not available (kernel module sch_netem missing?): ${netem.err}`,
    };
    return probed;
  } finally {
    run(['ip', 'netns', 'del', ns]);
  }
}

export interface NetnsPair {
  /** Namespace names and their addresses on the veth link. */
  a: { ns: string; dev: string; addr: string };
  b: { ns: string; dev: string; addr: string };
  /** Applies netem (delay ms, loss %) to both ends' egress. */
  netem(delayMs: number, lossPct: number): void;
  /** Takes the link down or up again, at both ends or at one end only. */
  setLink(up: boolean, which?: 'a' | 'b'): void;
  /** Runs `argv` inside namespace `which` (a tracked child process, its own process group; the caller ends it). */
  spawnIn(which: 'a' | 'b', argv: string[], options?: SpawnOptions): ChildProcess;
  destroy(): void;
}

function must(args: string[]): void {
  const r = run(args);
  if (!r.ok) throw new Error(`${args.join(' ')}: ${r.err}`);
}

/** Two namespaces joined by a veth pair 10.200.<n>.1/.2; loopback up in both. */
export function createNetnsPair(tag: string): NetnsPair {
  const id = `${tag}${process.pid}`.slice(0, 10);
  const a = { ns: `sca-${id}`, dev: `va${id}`.slice(0, 15), addr: '' };
  const b = { ns: `scb-${id}`, dev: `vb${id}`.slice(0, 15), addr: '' };
  const octet = (process.pid % 250) + 1;
  a.addr = `10.200.${octet}.1`;
  b.addr = `10.200.${octet}.2`;
  const destroy = (): void => {
    for (const ns of [a.ns, b.ns]) {
      // Processes still inside our namespaces are ours: end them, then remove the namespace.
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '';
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      run(['ip', 'netns', 'del', ns]);
    }
  };
  try {
    must(['ip', 'netns', 'add', a.ns]);
    must(['ip', 'netns', 'add', b.ns]);
    must(['ip', '-n', a.ns, 'link', 'add', a.dev, 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns]);
    must(['ip', '-n', a.ns, 'addr', 'add', `${a.addr}/24`, 'dev', a.dev]);
    must(['ip', '-n', b.ns, 'addr', 'add', `${b.addr}/24`, 'dev', b.dev]);
    for (const [ns, dev] of [[a.ns, a.dev], [b.ns, b.dev]] as const) {
      must(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    a,
    b,
    netem(delayMs, lossPct) {
      for (const [ns, dev] of [[a.ns, a.dev], [b.ns, b.dev]] as const) {
        must(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'replace', 'dev', dev, 'root', 'netem', 'delay', `${delayMs}ms`, 'loss', `${lossPct}%`]);
      }
    },
    setLink(up, which) {
      for (const [w, ns, dev] of [['a', a.ns, a.dev], ['b', b.ns, b.dev]] as const) {
        if (which === undefined || which === w) must(['ip', '-n', ns, 'link', 'set', dev, up ? 'up' : 'down']);
      }
    },
    spawnIn(which, argv, options = {}) {
      const ns = which === 'a' ? a.ns : b.ns;
      return spawnTracked('ip', ['netns', 'exec', ns, ...argv], options);
    },
    destroy,
  };
}
