/**
 * Worker-thread benchmark (not a test): should the QUIC endpoint run off the main
 * thread? Measures the receiving node's main thread in two arrangements, in one run:
 *
 *   main   — today's: the lean QUIC endpoint on the main thread; received bytes go
 *            straight into the media hub on the same thread.
 *   worker — the endpoint in a worker_threads Worker (bench/worker-endpoint.ts); the
 *            chunks read in one worker turn are packed into one ArrayBuffer and
 *            transferred to the main thread (credit-based: at most 512 KiB per stream
 *            and 1 MiB in all posted and not yet consumed), where the same hub code
 *            consumes them.
 *
 * The main thread is a media node: the real StreamHub (dataplane/media) fed exactly as
 * dataplane/cascade/forwarding/media-pull.ts feeds it (MediaStreamIo.pumpInto → Publisher), N
 * HTTP-FLV-like subscribers per stream (pumpSubscriber into a sink that encodes every
 * tag as an FLV tag, like http-flv.ts, without the socket write), and a 1 ms interval
 * timer. The sender is a child process (the real transport, one link) pushing
 * media-like streams: 25 fps video (keyframe every 50 frames, 5x the size of an inter
 * frame) and 128 kbit/s AAC-sized audio tags, 5 Mbit/s per stream, at fixed total
 * rates, plus one max-rate run (20 streams writing as fast as the link accepts).
 *
 *   npm run bench:worker
 *   npm run bench:worker -- --rates 20,100,400,max --seconds 6 --subs 4
 *
 * Per arrangement, over the measure window (after a warm-up): delivered Mbit/s (tag
 * bytes at subscriber 0), main-thread event-loop delay p50/p99/max
 * (monitorEventLoopDelay, 1 ms resolution), main-thread event-loop utilisation, ticks/s
 * of the 1 ms timer, CPU % of one core of the main thread and of the endpoint worker
 * thread, and the % of the time each was runnable but waiting for a core
 * (/proc/self/task/<tid>/schedstat), CPU % of the whole process (process.cpuUsage)
 * and of the sender, end-to-end latency of every tag (sender's
 * process.hrtime at build → subscriber 0's sink, one monotonic clock) p50/p99, peak RSS
 * and main-thread heap. Every tag is checked at subscriber 0 (sequence and every
 * pattern byte), and per stream the tag and byte counts of the publisher and of every
 * subscriber must equal what the sender sent, so a broken arrangement cannot look fast.
 * The whole run aborts after --abort seconds (default 300).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { MediaStreamIo, errorText } from '../dataplane/cascade/forwarding/media-stream.js';
import { encodeFlvTag, flvTypeId, pumpSubscriber, StreamHub, TimestampRebaser, type Subscriber } from '../dataplane/media/index.js';
import { encodeMediaFrame, encodeTagFrame } from '../dataplane/protocol/index.js';
import { createLeanQuicTransport, generateSelfSignedIdentity, type Link, type LinkStream } from '../dataplane/transport/index.js';
import { buildBody, parseSchedstat, readBody, schedstatPath, type FromEndpoint, type ToEndpoint } from './worker-shared.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : (process.env[`BENCH_${name.toUpperCase()}`] ?? fallback);
}

const RATES = arg('rates', '20,100,400,max').split(',');
const SECONDS = Number(arg('seconds', '6'));
const WARMUP_S = Number(arg('warmup', '1.5'));
const SUBS = Number(arg('subs', '4'));
const STREAM_MBPS = Number(arg('stream-mbps', '5'));
const MAX_STREAMS = Number(arg('max-streams', '20'));
const ABORT_S = Number(arg('abort', '300'));

const FPS = 25;
const GOP = 50;
const KEY_FACTOR = 5;
const AUDIO_BPS = 128_000;
const AUDIO_MS = (1024 / 44_100) * 1000;
const AUDIO_BYTES = Math.round(AUDIO_BPS / 8 / (1000 / AUDIO_MS));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- sender (child process)

type ToSender =
  | { t: 'run'; port: number; streams: number; streamBps: number; sendMs: number; max: boolean; prefix: string }
  | { t: 'mark' }
  | { t: 'unmark' }
  | { t: 'closeLink' }
  | { t: 'exit' };

interface SentStream {
  path: string;
  tags: number;
  bytes: number;
}

type FromSender =
  | { t: 'hello' }
  | { t: 'started' }
  | { t: 'sent'; streams: SentStream[] }
  | { t: 'cpu'; cpuS: number }
  | { t: 'linkClosed' }
  | { t: 'error'; message: string };

async function sendStream(s: LinkStream, path: string, i: number, n: number, bps: number, deadline: number, max: boolean): Promise<SentStream> {
  const gopBytes = ((bps - AUDIO_BPS) / 8) * (GOP / FPS);
  const interBytes = Math.round(gopBytes / (GOP - 1 + KEY_FACTOR));
  const phase = (i * (1000 / FPS)) / n; // spread the streams' frames over a frame interval
  const keyShift = (i * 7) % GOP; // and their keyframes over the GOP
  const batchLimit = max ? 64 * 1024 : 512 * 1024;
  let vi = 0;
  let ai = 0;
  let seq = 0;
  let bytes = 0;
  const t0 = performance.now();
  for (;;) {
    const now = performance.now();
    if (now >= deadline) break;
    const due = max ? Infinity : now - t0;
    const parts: Uint8Array[] = [];
    let size = 0;
    while (size < batchLimit) {
      const tv = vi * (1000 / FPS) + phase;
      const ta = ai * AUDIO_MS + phase;
      if (Math.min(tv, ta) > due) break;
      let frame: Uint8Array;
      if (tv <= ta) {
        const key = (vi + keyShift) % GOP === 0;
        const body = buildBody(key ? 'key' : 'inter', seq++, key ? interBytes * KEY_FACTOR : interBytes);
        bytes += body.byteLength;
        frame = encodeTagFrame(9, Math.round(tv), body);
        vi++;
      } else {
        const body = buildBody('audio', seq++, AUDIO_BYTES);
        bytes += body.byteLength;
        frame = encodeTagFrame(8, Math.round(ta), body);
        ai++;
      }
      parts.push(frame);
      size += frame.byteLength;
    }
    if (parts.length === 0) {
      const next = Math.min(vi * (1000 / FPS), ai * AUDIO_MS) + phase;
      await sleep(Math.max(1, Math.min(next - due, deadline - now)));
      continue;
    }
    await s.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
  }
  await s.write(encodeMediaFrame({ type: 'end', reason: 'bench done' }));
  await s.end().catch(() => undefined);
  return { path, tags: seq, bytes };
}

async function runSender(): Promise<void> {
  const caPem = process.env.BENCH_CA ?? '';
  const send = (m: FromSender): void => void process.send?.(m);
  let cpuMark: NodeJS.CpuUsage | undefined;
  let link: Link | null = null;
  process.on('message', (raw: unknown) => {
    const msg = raw as ToSender;
    if (msg.t === 'run') {
      void (async () => {
        link = await createLeanQuicTransport().connect({ host: '127.0.0.1', port: msg.port, caPem });
        const l = link;
        const streams = await Promise.all(Array.from({ length: msg.streams }, () => l.openStream()));
        const paths = streams.map((_, i) => `${msg.prefix}/s${i}`);
        await Promise.all(streams.map((s, i) => s.write(encodeMediaFrame({ type: 'open', path: paths[i]!, chain: [] }))));
        send({ t: 'started' });
        const deadline = performance.now() + msg.sendMs;
        const sent = await Promise.all(
          streams.map((s, i) => sendStream(s, paths[i]!, i, msg.streams, msg.streamBps, deadline, msg.max)),
        );
        send({ t: 'sent', streams: sent });
      })().catch((err: unknown) => send({ t: 'error', message: errorText(err) }));
    } else if (msg.t === 'mark') {
      cpuMark = process.cpuUsage();
    } else if (msg.t === 'unmark') {
      const c = process.cpuUsage(cpuMark);
      send({ t: 'cpu', cpuS: (c.user + c.system) / 1e6 });
    } else if (msg.t === 'closeLink') {
      const l = link;
      link = null;
      void (l?.close(0, 'bench run done') ?? Promise.resolve()).finally(() => send({ t: 'linkClosed' }));
    } else if (msg.t === 'exit') {
      process.exit(0);
    }
  });
  send({ t: 'hello' });
}

/** The sender child as seen from the bench: typed, time-bounded request/response. */
class SenderChild {
  private readonly waiters = new Map<string, { resolve: (m: FromSender) => void; reject: (e: Error) => void }[]>();
  private readonly early = new Map<string, FromSender[]>();
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (raw: unknown) => {
      const m = raw as FromSender;
      if (m.t === 'error') {
        const err = new Error(`sender: ${m.message}`);
        for (const list of this.waiters.values()) for (const w of list.splice(0)) w.reject(err);
        return;
      }
      const w = this.waiters.get(m.t)?.shift();
      if (w !== undefined) w.resolve(m);
      else this.early.set(m.t, [...(this.early.get(m.t) ?? []), m]);
    });
    proc.on('exit', (code) => {
      const err = new Error(`sender exited (${code})`);
      for (const list of this.waiters.values()) for (const w of list.splice(0)) w.reject(err);
    });
  }
  send(m: ToSender): void {
    this.proc.send(m);
  }
  wait<T extends FromSender['t']>(t: T, ms: number): Promise<Extract<FromSender, { t: T }>> {
    const queued = this.early.get(t)?.shift();
    if (queued !== undefined) return Promise.resolve(queued as Extract<FromSender, { t: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sender: no '${t}' within ${ms} ms`)), ms);
      const list = this.waiters.get(t) ?? [];
      list.push({
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<FromSender, { t: T }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.waiters.set(t, list);
    });
  }
}

// ---------------------------------------------------------------- receiver (this process's main thread)

const hub = new StreamHub({ logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }) });
let timerTicks = 0;

interface StreamResult {
  path: string;
  reason: string;
  bytesIn: number;
  sub0Bytes: number;
  seqErrors: number;
  contentErrors: number;
  subTags: number[];
  skips: number;
}

/** State of one arrangement's run, shared by its streams. */
class Run {
  measuring = false;
  latMs: number[] = [];
  windowBytes = 0;
  /** Largest FLV output of one subscriber (keeps the encode from being optimised away). */
  flvBytes = 0;
  readonly results = new Map<string, StreamResult>();
  readonly errors: string[] = [];
  finished = 0;
  private waiter: (() => void) | null = null;
  streamDone(): void {
    this.finished++;
    this.waiter?.();
  }
  async waitFinished(n: number, ms: number): Promise<boolean> {
    const until = performance.now() + ms;
    while (this.finished < n) {
      const left = until - performance.now();
      if (left <= 0) return false;
      await Promise.race([new Promise<void>((r) => (this.waiter = r)), sleep(Math.min(left, 250))]);
      this.waiter = null;
    }
    return true;
  }
}

/** One stream into the hub, as media-pull.ts does it, with SUBS subscribers reading it. */
async function serveStream(stream: LinkStream, run: Run): Promise<void> {
  const io = new MediaStreamIo(stream);
  let path = '(before OPEN)';
  try {
    const first = await io.nextWithin(10_000, 'OPEN');
    if (first?.type !== 'open') throw new Error('expected OPEN');
    path = first.path;
    const publisher = hub.publish(path, { protocol: 'cascade', remote: 'bench-sender' });
    const r: StreamResult = { path, reason: '', bytesIn: 0, sub0Bytes: 0, seqErrors: 0, contentErrors: 0, subTags: [], skips: 0 };
    const subs: Subscriber[] = [];
    const pumps: Promise<void>[] = [];
    for (let k = 0; k < SUBS; k++) {
      const sub = hub.subscribe(path, { protocol: 'http-flv', remote: `bench-reader-${k}` });
      if (sub === null) throw new Error('subscribe failed');
      subs.push(sub);
      r.subTags.push(0);
      const rebaser = new TimestampRebaser();
      let expectSeq = 0;
      let flvBytes = 0;
      pumps.push(
        pumpSubscriber(sub, {
          write(tag) {
            // What http-flv.ts does per tag and reader (minus the socket write).
            flvBytes += encodeFlvTag(flvTypeId(tag.type), rebaser.map(tag), tag.data).byteLength;
            r.subTags[k]!++;
            if (k === 0) {
              const b = readBody(tag.data);
              if (b.seq !== expectSeq) r.seqErrors++;
              expectSeq = b.seq + 1;
              if (!b.ok) r.contentErrors++;
              r.sub0Bytes += tag.data.byteLength;
              if (run.measuring) {
                run.windowBytes += tag.data.byteLength;
                if (run.latMs.length < 2_000_000) run.latMs.push(Number(process.hrtime.bigint() - b.stampNs) / 1e6);
              }
            }
            run.flvBytes = Math.max(run.flvBytes, flvBytes);
            return true;
          },
          drained: () => Promise.resolve(true),
        }),
      );
    }
    r.reason = await io.pumpInto(publisher);
    r.bytesIn = io.bytesIn;
    publisher.close(r.reason);
    await Promise.all(pumps);
    r.skips = subs.reduce((a, s) => a + s.stats.skips, 0);
    run.results.set(path, r);
  } catch (err) {
    run.errors.push(`${path}: ${errorText(err)}`);
    stream.reset(1);
  } finally {
    run.streamDone();
  }
}

/** The main thread's end of a stream read by the endpoint worker: a LinkStream fed by messages. */
class PortStream implements LinkStream {
  private readonly chunks: Uint8Array[] = [];
  private fin = false;
  private waiter: ((c: Uint8Array | null) => void) | null = null;
  readonly closed = Promise.resolve();
  constructor(
    readonly id: number,
    private readonly consumed: (sid: number, n: number) => void,
    private readonly onReset: (sid: number, code: number) => void,
  ) {}
  push(c: Uint8Array): void {
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      this.consumed(this.id, c.byteLength);
      w(c);
    } else this.chunks.push(c);
  }
  finish(): void {
    this.fin = true;
    if (this.waiter !== null && this.chunks.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
  }
  read(): Promise<Uint8Array | null> {
    const c = this.chunks.shift();
    if (c !== undefined) {
      this.consumed(this.id, c.byteLength);
      return Promise.resolve(c);
    }
    if (this.fin) return Promise.resolve(null);
    return new Promise((r) => (this.waiter = r));
  }
  write(): Promise<void> {
    return Promise.resolve();
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  reset(code = 0): void {
    this.onReset(this.id, code);
  }
}

interface Endpoint {
  port: number;
  tid: number | null;
  worker: Worker | null;
  close(): Promise<void>;
}

async function mainThreadEndpoint(run: Run, tls: { certPem: string; keyPem: string }): Promise<Endpoint> {
  const listener = await createLeanQuicTransport().listen({
    host: '127.0.0.1',
    port: 0,
    tls,
    onConnection(link) {
      link.onStream = (s) => void serveStream(s, run);
    },
  });
  return { port: listener.address.port, tid: null, worker: null, close: () => listener.close() };
}

async function workerEndpoint(run: Run, tls: { certPem: string; keyPem: string }): Promise<Endpoint> {
  const url = new URL('./worker-endpoint.ts', import.meta.url).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  // tsx's loader is not inherited by workers on Node 20: register it in the worker first.
  const worker = new Worker(
    `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`,
    { eval: true, workerData: { tls } },
  );
  const streams = new Map<number, PortStream>();
  const credits = new Map<number, number>();
  let ackScheduled = false;
  const post = (m: ToEndpoint, transfer: ArrayBuffer[] = []): void => worker.postMessage(m, transfer);
  const flushAcks = (): void => {
    ackScheduled = false;
    const a = new Uint32Array(credits.size * 2);
    let i = 0;
    for (const [sid, n] of credits) {
      a[i++] = sid;
      a[i++] = n;
    }
    credits.clear();
    post({ t: 'ack', credits: a }, [a.buffer as ArrayBuffer]);
  };
  const consumed = (sid: number, n: number): void => {
    credits.set(sid, (credits.get(sid) ?? 0) + n);
    if (!ackScheduled) {
      ackScheduled = true;
      setImmediate(flushAcks);
    }
  };
  const onReset = (sid: number, code: number): void => post({ t: 'reset', sid, code });
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const ready = new Promise<{ port: number; tid: number }>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (msg: FromEndpoint) => {
      if (msg.t === 'ready') resolve({ port: msg.port, tid: msg.tid });
      else if (msg.t === 'closed') closedResolve();
      else if (msg.t === 'batch') {
        for (const sid of msg.opens) {
          const s = new PortStream(sid, consumed, onReset);
          streams.set(sid, s);
          void serveStream(s, run);
        }
        const bytes = new Uint8Array(msg.buf);
        let o = 0;
        for (let i = 0; i + 1 < msg.index.length; i += 2) {
          const n = msg.index[i + 1]!;
          streams.get(msg.index[i]!)?.push(bytes.subarray(o, o + n));
          o += n;
        }
        for (const sid of msg.fins) {
          streams.get(sid)?.finish();
          streams.delete(sid);
        }
      }
    });
  });
  worker.on('error', (err) => run.errors.push(`endpoint worker: ${errorText(err)}`));
  const r = await Promise.race([ready, sleep(15_000).then(() => Promise.reject(new Error('endpoint worker did not start')))]);
  return {
    port: r.port,
    tid: r.tid,
    worker,
    async close() {
      post({ t: 'close' });
      await Promise.race([closed, sleep(3_000)]);
      await worker.terminate();
    },
  };
}

function threadSched(tid: number | null): { cpuS: number; waitS: number } {
  try {
    return parseSchedstat(readFileSync(schedstatPath(tid), 'utf8'));
  } catch {
    return { cpuS: NaN, waitS: NaN };
  }
}

interface Spec {
  label: string;
  streams: number;
  streamBps: number;
  max: boolean;
}

interface Row {
  deliveredMbps: number;
  eldP50: number;
  eldP99: number;
  eldMax: number;
  eluPct: number;
  ticksPerS: number;
  mainCpuPct: number;
  mainWaitPct: number;
  workerCpuPct: number;
  workerWaitPct: number;
  workerEluPct: number;
  processCpuPct: number;
  senderCpuPct: number;
  latP50: number;
  latP99: number;
  rssMiB: number;
  heapMiB: number;
  verified: string;
  verifiedMB: number;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function runArrangement(kind: 'main' | 'worker', spec: Spec, sender: SenderChild, tls: { certPem: string; keyPem: string }): Promise<Row> {
  const run = new Run();
  const ep = kind === 'main' ? await mainThreadEndpoint(run, tls) : await workerEndpoint(run, tls);
  try {
    const sendMs = (WARMUP_S + SECONDS) * 1000 + 300;
    sender.send({ t: 'run', port: ep.port, streams: spec.streams, streamBps: spec.streamBps, sendMs, max: spec.max, prefix: `bench/${kind}-${spec.label}` });
    await sender.wait('started', 20_000);
    await sleep(WARMUP_S * 1000);

    // ---- measure window
    const eld = monitorEventLoopDelay({ resolution: 1 });
    eld.enable();
    sender.send({ t: 'mark' });
    const cpu0 = process.cpuUsage();
    const main0 = threadSched(null);
    const w0 = ep.tid === null ? null : threadSched(ep.tid);
    const elu0: EventLoopUtilization = performance.eventLoopUtilization();
    const welu0 = ep.worker?.performance.eventLoopUtilization();
    const ticks0 = timerTicks;
    let rss = process.memoryUsage().rss;
    let heap = process.memoryUsage().heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      rss = Math.max(rss, m.rss);
      heap = Math.max(heap, m.heapUsed);
    }, 100);
    const t0 = performance.now();
    run.measuring = true;
    await sleep(SECONDS * 1000);
    run.measuring = false;
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const main1 = threadSched(null);
    const w1 = ep.tid === null ? null : threadSched(ep.tid);
    const elu = performance.eventLoopUtilization(elu0);
    const welu = ep.worker !== null && welu0 !== undefined ? ep.worker.performance.eventLoopUtilization(welu0) : null;
    const ticks = timerTicks - ticks0;
    clearInterval(sampler);
    eld.disable();
    sender.send({ t: 'unmark' });
    const senderCpu = await sender.wait('cpu', 20_000);
    // ---- end of the window; let the sender finish and every stream drain, then verify
    const sent = await sender.wait('sent', 60_000);
    const all = await run.waitFinished(sent.streams.length, 30_000);
    sender.send({ t: 'closeLink' });
    await sender.wait('linkClosed', 10_000);

    const problems: string[] = [...run.errors];
    if (!all) problems.push(`only ${run.finished} of ${sent.streams.length} streams finished`);
    let verifiedBytes = 0;
    for (const s of sent.streams) {
      const r = run.results.get(s.path);
      if (r === undefined) {
        problems.push(`${s.path}: no result`);
        continue;
      }
      const bad: string[] = [];
      if (r.reason !== 'bench done') bad.push(`ended "${r.reason}"`);
      if (r.bytesIn !== s.bytes) bad.push(`publisher got ${r.bytesIn} of ${s.bytes} bytes`);
      if (r.sub0Bytes !== s.bytes) bad.push(`subscriber 0 got ${r.sub0Bytes} of ${s.bytes} bytes`);
      r.subTags.forEach((n, k) => {
        if (n !== s.tags) bad.push(`subscriber ${k} got ${n} of ${s.tags} tags`);
      });
      if (r.seqErrors > 0) bad.push(`${r.seqErrors} sequence errors`);
      if (r.contentErrors > 0) bad.push(`${r.contentErrors} corrupted tags`);
      if (r.skips > 0) bad.push(`${r.skips} skips`);
      if (bad.length > 0) problems.push(`${s.path}: ${bad.join(', ')}`);
      else verifiedBytes += s.bytes;
    }
    if (problems.length > 0) process.stderr.write(`  ${kind} ${spec.label}: CHECK FAILED\n    ${problems.slice(0, 8).join('\n    ')}\n`);
    run.latMs.sort((a, b) => a - b);
    const q = eld.count > 0;
    return {
      deliveredMbps: (run.windowBytes * 8) / wall / 1e6,
      eldP50: q ? eld.percentile(50) / 1e6 : NaN,
      eldP99: q ? eld.percentile(99) / 1e6 : NaN,
      eldMax: q ? eld.max / 1e6 : NaN,
      eluPct: elu.utilization * 100,
      ticksPerS: ticks / wall,
      mainCpuPct: ((main1.cpuS - main0.cpuS) / wall) * 100,
      mainWaitPct: ((main1.waitS - main0.waitS) / wall) * 100,
      workerCpuPct: w0 !== null && w1 !== null ? ((w1.cpuS - w0.cpuS) / wall) * 100 : NaN,
      workerWaitPct: w0 !== null && w1 !== null ? ((w1.waitS - w0.waitS) / wall) * 100 : NaN,
      workerEluPct: welu === null ? NaN : welu.utilization * 100,
      processCpuPct: ((cpu.user + cpu.system) / 1e6 / wall) * 100,
      senderCpuPct: (senderCpu.cpuS / wall) * 100,
      latP50: pct(run.latMs, 50),
      latP99: pct(run.latMs, 99),
      rssMiB: rss / 1048576,
      heapMiB: heap / 1048576,
      verified: problems.length === 0 ? 'ok' : 'FAIL',
      verifiedMB: verifiedBytes / 1e6,
    };
  } finally {
    await ep.close();
  }
}

function specOf(rate: string): Spec {
  if (rate === 'max') return { label: 'max', streams: MAX_STREAMS, streamBps: STREAM_MBPS * 1e6, max: true };
  const mbps = Number(rate);
  if (!(mbps > 0)) throw new Error(`bad rate ${rate}`);
  const streams = Math.max(1, Math.round(mbps / STREAM_MBPS));
  return { label: `${mbps}M`, streams, streamBps: (mbps * 1e6) / streams, max: false };
}

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

function printTable(specs: Spec[], rows: Map<string, { main: Row; worker: Row }>): void {
  const metrics: [string, (r: Row) => number | string, number][] = [
    ['delivered Mbit/s', (r) => r.deliveredMbps, 1],
    ['main ELD p50 ms', (r) => r.eldP50, 2],
    ['main ELD p99 ms', (r) => r.eldP99, 2],
    ['main ELD max ms', (r) => r.eldMax, 1],
    ['main ELU %', (r) => r.eluPct, 0],
    ['1 ms timer ticks/s', (r) => r.ticksPerS, 0],
    ['main thread CPU %', (r) => r.mainCpuPct, 0],
    ['main thread run-queue wait %', (r) => r.mainWaitPct, 0],
    ['worker thread CPU %', (r) => r.workerCpuPct, 0],
    ['worker thread run-queue wait %', (r) => r.workerWaitPct, 0],
    ['worker ELU %', (r) => r.workerEluPct, 0],
    ['process CPU %', (r) => r.processCpuPct, 0],
    ['sender CPU %', (r) => r.senderCpuPct, 0],
    ['latency p50 ms', (r) => r.latP50, 2],
    ['latency p99 ms', (r) => r.latP99, 1],
    ['peak RSS MiB', (r) => r.rssMiB, 0],
    ['peak main heap MiB', (r) => r.heapMiB, 0],
    ['bytes verified MB', (r) => r.verifiedMB, 0],
    ['check', (r) => r.verified, 0],
  ];
  const header = ['metric'];
  for (const s of specs) header.push(`${s.label} main`, `${s.label} worker`, 'w/m');
  const lines: string[][] = [header];
  for (const [label, get, digits] of metrics) {
    const line = [label];
    for (const s of specs) {
      const pair = rows.get(s.label);
      if (pair === undefined) {
        line.push('—', '—', '');
        continue;
      }
      const a = get(pair.main);
      const b = get(pair.worker);
      if (typeof a === 'string' || typeof b === 'string') {
        line.push(String(a), String(b), '');
        continue;
      }
      const ratio = a !== 0 && Number.isFinite(a) && Number.isFinite(b) && !label.startsWith('worker thread') && label !== 'bytes verified MB' ? `${(b / a).toFixed(2)}x` : '';
      line.push(fmt(a, digits), fmt(b, digits), ratio);
    }
    lines.push(line);
  }
  const out = (l: string[]): string => `| ${l.join(' | ')} |`;
  process.stdout.write(`${out(lines[0]!)}\n${out(lines[0]!.map((_, i) => (i === 0 ? '---' : '---:')))}\n`);
  for (const l of lines.slice(1)) process.stdout.write(`${out(l)}\n`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--send') {
    await runSender();
    return;
  }
  const specs = RATES.map(specOf);
  const tls = await generateSelfSignedIdentity('bench');
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--send'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CA: tls.certPem },
  });
  const sender = new SenderChild(child);
  const abort = setTimeout(() => {
    process.stderr.write(`bench:worker: ${ABORT_S} s limit reached, aborting\n`);
    child.kill('SIGKILL');
    process.exit(1);
  }, ABORT_S * 1000);
  const ticker = setInterval(() => void timerTicks++, 1);
  const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
  process.stdout.write(
    `worker bench: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? '?'}; loadavg at start ${load0}\n` +
      `${SECONDS} s measured after ${WARMUP_S} s warm-up per arrangement; ${STREAM_MBPS} Mbit/s per stream (25 fps video, ` +
      `GOP ${GOP}, keyframes ${KEY_FACTOR}x, AAC-sized audio), ${SUBS} subscribers per stream; max = ${MAX_STREAMS} streams unpaced\n`,
  );
  const rows = new Map<string, { main: Row; worker: Row }>();
  try {
    await sender.wait('hello', 20_000);
    for (const [i, spec] of specs.entries()) {
      // Alternate which arrangement goes first so drift in the machine's load does not favour one.
      const order: ('main' | 'worker')[] = i % 2 === 0 ? ['main', 'worker'] : ['worker', 'main'];
      const got: Partial<Record<'main' | 'worker', Row>> = {};
      for (const kind of order) {
        process.stdout.write(`  ${spec.label} (${spec.streams} streams${spec.max ? ', unpaced' : ''}): ${kind} ...`);
        const row = await runArrangement(kind, spec, sender, tls);
        got[kind] = row;
        process.stdout.write(
          ` ${fmt(row.deliveredMbps, 1)} Mbit/s, ELD p99 ${fmt(row.eldP99, 2)} ms, latency p99 ${fmt(row.latP99, 1)} ms, ${row.verified}\n`,
        );
        await sleep(500);
      }
      rows.set(spec.label, { main: got.main!, worker: got.worker! });
    }
  } finally {
    clearInterval(ticker);
    clearTimeout(abort);
    sender.send({ t: 'exit' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await Promise.race([exited, sleep(5_000).then(() => void child.kill('SIGKILL'))]);
  }
  process.stdout.write(`\nloadavg at end ${readFileSync('/proc/loadavg', 'utf8').trim()}\n\n`);
  printTable(specs, rows);
  const failed = [...rows.values()].some((r) => r.main.verified !== 'ok' || r.worker.verified !== 'ok');
  if (failed) {
    process.stdout.write('\nSOME ARRANGEMENT FAILED ITS CHECK: its figures are not valid.\n');
    process.exitCode = 1;
  }
  hub.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
