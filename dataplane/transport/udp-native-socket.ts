/**
 * The native implementation of {@link DatagramSocket} (native/udp_batch.c, built by
 * node-gyp at install into build/Release/udp_batch.node): one recvmmsg per readiness
 * event delivered in one callback, one sendmmsg (with UDP GSO where the kernel allows)
 * per sendBatch. A full socket (EAGAIN) queues the rest, copied, until it is writable.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { DatagramHandler, DatagramSocket, OpenDatagramSocketArgs, UdpPeer } from './datagram-socket.js';

/**
 * Where `npm install` builds the addon: build/Release of the package, two folders up
 * from this file in the sources and three in the compiled dist/.
 */
const ADDON_CANDIDATES = ['../../build/Release/udp_batch.node', '../../../build/Release/udp_batch.node'].map((rel) =>
  fileURLToPath(new URL(rel, import.meta.url)),
);
export const DEFAULT_UDP_ADDON_PATH: string = ADDON_CANDIDATES.find((p) => existsSync(p)) ?? (ADDON_CANDIDATES[0] as string);

/** Receive slots per socket: datagrams per recvmmsg (each slot is 64 KiB of address space, touched only as used). */
const RECV_SLOTS = 64;
/** Datagrams queued while the socket is full; beyond that they are dropped (QUIC retransmits). */
const MAX_QUEUED = 4096;

interface NativeHandle {
  recv: ArrayBuffer;
  meta: Int32Array;
}

interface UdpBatchAddon {
  metaInts: number;
  open(o: {
    family: 4 | 6;
    host: string;
    port: number;
    bufferBytes: number;
    slots: number;
    gro: boolean;
    onBatch: (count: number, hosts: string[]) => void;
    onWritable: () => void;
    onError: (code: string, syscall: string) => void;
    onClose: () => void;
  }): NativeHandle;
  address(h: NativeHandle): UdpPeer;
  connect(h: NativeHandle, host: string, port: number): void;
  send(h: NativeHandle, data: Uint8Array, lens: Int32Array, count: number, stride: number, host: string | null, port: number): number;
  wantWritable(h: NativeHandle): void;
  close(h: NativeHandle): void;
}

const loaded = new Map<string, { addon: UdpBatchAddon | null; error: string | null }>();

/** Load the addon once per path; `error` says why it did not load. */
export function loadUdpBatchAddon(path: string): { addon: UdpBatchAddon | null; error: string | null } {
  let r = loaded.get(path);
  if (r === undefined) {
    try {
      if (process.platform !== 'linux') throw new Error(`recvmmsg/sendmmsg need Linux, this is ${process.platform}`);
      const addon = createRequire(import.meta.url)(path) as UdpBatchAddon;
      if (typeof addon.open !== 'function' || typeof addon.send !== 'function') throw new Error('not the udp_batch addon');
      r = { addon, error: null };
    } catch (e) {
      r = { addon: null, error: e instanceof Error ? e.message : String(e) };
    }
    loaded.set(path, r);
  }
  return r;
}

interface Queued {
  data: Buffer;
  lens: Int32Array;
  count: number;
  to: UdpPeer | null;
}

class NativeSocket implements DatagramSocket {
  readonly kind = 'native' as const;
  onMessage: DatagramHandler = () => undefined;
  private readonly addon: UdpBatchAddon;
  private readonly handle: NativeHandle;
  private readonly recv: ArrayBuffer;
  private readonly meta: Int32Array;
  private readonly metaInts: number;
  private readonly onError: (err: Error) => void;
  private readonly queue: Queued[] = [];
  private queued = 0;
  private closed = false;
  private readonly closedPromise: Promise<void>;

  constructor(addon: UdpBatchAddon, args: OpenDatagramSocketArgs) {
    this.addon = addon;
    this.onError = args.onError;
    this.metaInts = addon.metaInts;
    let resolveClosed!: () => void;
    this.closedPromise = new Promise<void>((resolve) => (resolveClosed = resolve));
    this.handle = addon.open({
      family: args.family,
      host: args.host,
      port: args.port,
      bufferBytes: args.bufferBytes,
      slots: RECV_SLOTS,
      gro: true,
      onBatch: this.onBatch,
      onWritable: this.onWritable,
      onError: (code, syscall) => this.onError(Object.assign(new Error(`${syscall} ${code}`), { code, syscall })),
      onClose: () => resolveClosed(),
    });
    this.recv = this.handle.recv;
    this.meta = this.handle.meta;
  }

  private readonly onBatch = (count: number, hosts: string[]): void => {
    const meta = this.meta;
    const step = this.metaInts;
    for (let i = 0; i < count && !this.closed; i++) {
      const at = i * step;
      const host = hosts[meta[at + 3] ?? 0] ?? '';
      try {
        this.onMessage(Buffer.from(this.recv, meta[at] ?? 0, meta[at + 1] ?? 0), host, meta[at + 2] ?? 0);
      } catch (e) {
        this.onError(e instanceof Error ? e : new Error(String(e)));
      }
    }
  };

  address(): UdpPeer {
    return this.addon.address(this.handle);
  }

  connect(host: string, port: number): Promise<void> {
    try {
      this.addon.connect(this.handle, host, port);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  sendBatch(data: Buffer, lens: Int32Array, count: number, stride: number, to: UdpPeer | null): void {
    if (this.closed || count <= 0) return;
    if (this.queue.length > 0) {
      this.enqueue(data, lens, 0, count, stride, to);
      return;
    }
    const done = this.sendNow(data, lens, count, stride, to);
    if (done < count) this.enqueue(data, lens, done, count, stride, to);
  }

  /** Datagrams consumed (sent, or dropped after a hard error); fewer than count: the socket is full. */
  private sendNow(data: Buffer, lens: Int32Array, count: number, stride: number, to: UdpPeer | null): number {
    let from = 0;
    let view = data;
    let viewLens = lens;
    for (;;) {
      try {
        return from + this.addon.send(this.handle, view, viewLens, count - from, stride, to?.host ?? null, to?.port ?? 0);
      } catch (e) {
        this.onError(e instanceof Error ? e : new Error(String(e)));
        const consumed = (e as { consumed?: unknown }).consumed;
        if (typeof consumed !== 'number' || consumed <= 0) return count; // not a send error: drop the batch
        // Skip what was consumed (its datagrams dropped) and go on with the rest.
        let off = 0;
        if (stride > 0) off = consumed * stride;
        else for (let i = 0; i < consumed; i++) off += viewLens[i] ?? 0;
        from += consumed;
        if (from >= count) return count;
        view = view.subarray(off);
        viewLens = viewLens.subarray(consumed);
      }
    }
  }

  /** Copy datagrams [first, count) packed into a fresh buffer, to send once writable. */
  private enqueue(data: Buffer, lens: Int32Array, first: number, count: number, stride: number, to: UdpPeer | null): void {
    let n = count - first;
    if (this.queued + n > MAX_QUEUED) n = Math.max(0, MAX_QUEUED - this.queued);
    if (n === 0) return;
    let start = 0;
    if (stride > 0) start = first * stride;
    else for (let i = 0; i < first; i++) start += lens[i] ?? 0;
    const qLens = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += qLens[i] = lens[first + i] ?? 0;
    const copy = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const len = qLens[i] ?? 0;
      const src = stride > 0 ? (first + i) * stride : start + at;
      data.copy(copy, at, src, src + len);
      at += len;
    }
    this.queue.push({ data: copy, lens: qLens, count: n, to });
    this.queued += n;
    this.addon.wantWritable(this.handle);
  }

  private readonly onWritable = (): void => {
    while (!this.closed) {
      const q = this.queue[0];
      if (q === undefined) return;
      const done = this.sendNow(q.data, q.lens, q.count, 0, q.to);
      if (done < q.count) {
        let off = 0;
        for (let i = 0; i < done; i++) off += q.lens[i] ?? 0;
        q.data = q.data.subarray(off);
        q.lens = q.lens.subarray(done);
        q.count -= done;
        this.queued -= done;
        this.addon.wantWritable(this.handle);
        return;
      }
      this.queue.shift();
      this.queued -= q.count;
    }
  };

  sendBufferBusy(): boolean {
    return false; // the kernel copies on send; a queued remainder is copied
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.queue.length = 0;
      this.addon.close(this.handle);
    }
    return this.closedPromise;
  }
}

/** Open and bind a native batch socket (the addon must load: see loadUdpBatchAddon). */
export function openNativeSocket(args: OpenDatagramSocketArgs): Promise<DatagramSocket> {
  const { addon, error } = loadUdpBatchAddon(args.addonPath);
  if (addon === null) return Promise.reject(new Error(`UDP batch addon not loaded: ${error}`));
  try {
    return Promise.resolve(new NativeSocket(addon, args));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}
