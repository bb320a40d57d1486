/**
 * One bidirectional QUIC stream of the lean driver, as a {@link LinkStream}.
 * Reads are pulled from quiche only while the local buffer is below its bound,
 * so an idle reader stops flow-control credit; writes wait for stream
 * capacity and retry partial writes (FIN included).
 */
import { LinkClosedError, LinkStreamResetError, type LinkStream } from './link.js';
import {
  nativeErrorName,
  ShutdownDirection,
  streamResetCode,
  streamStoppedCode,
  type NativeConnection,
} from './quic-native.js';

/** What a stream needs from its connection. */
export interface LeanStreamOwner {
  readonly native: NativeConnection;
  /** Bytes a stream may buffer on its read side. */
  readonly readBufferBytes: number;
  /** Send whatever quiche has to send, soon (same event-loop turn). */
  scheduleFlush(): void;
  /** Send what quiche has to send right now (synchronously). */
  flushNow(): void;
  /**
   * True while no packet has been sent since quiche processed the last received datagram (or
   * timeout): quiche's send capacity is then up to date, see LeanStream.readyForBareFin.
   */
  bareFinWindowOpen(): boolean;
  /** A stream waits for that window: make sure a datagram arrives soon (elicit an ACK). */
  awaitBareFinWindow(): void;
  /** The stream has pending writes waiting for capacity (or no longer has). */
  setBlocked(stream: LeanStream, blocked: boolean): void;
  /** Both directions are done: forget the stream. */
  streamFinished(stream: LeanStream): void;
  /** A scratch buffer for streamRecv (reused; contents copied out). */
  recvScratch(): Buffer;
  /** Debug hook for unexpected binding errors. */
  debug(msg: string, err: unknown): void;
}

interface Deferred<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

interface PendingWrite extends Deferred<void> {
  data: Uint8Array;
  offset: number;
  fin: boolean;
  /** Resolved early (its last byte is held back, see processWrites). */
  settled: boolean;
}

const EMPTY = new Uint8Array(0);
const RESOLVED: Promise<void> = Promise.resolve();
/** Send capacity (bytes) needed before a bare FIN is written: a whole minimum-size QUIC packet. */
const BARE_FIN_MIN_CAPACITY = 1200;

/** A stream of a lean QUIC connection. */
export class LeanStream implements LinkStream {
  readonly id: number;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private readonly owner: LeanStreamOwner;

  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  private finReceived = false;
  private readers: Deferred<Uint8Array | null>[] = [];
  /** Set once reads can no longer succeed (reset or connection closed). */
  private readError: Error | null = null;

  private writes: PendingWrite[] = [];
  private releaseHeld = false;
  private releaseScheduled = false;
  private endPromise: Promise<void> | null = null;
  private finSent = false;
  private writeError: Error | null = null;
  private isClosed = false;

  /**
   * False for a locally opened stream until its first streamSend: quiche has no
   * such stream yet, and calling streamRecv on it then was seen to lose the
   * peer's later FIN. Peer-opened streams exist from the start.
   */
  private onWire: boolean;

  constructor(owner: LeanStreamOwner, id: number, onWire: boolean) {
    this.owner = owner;
    this.id = id;
    this.onWire = onWire;
    this.closed = new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  read(): Promise<Uint8Array | null> {
    const chunk = this.chunks.shift();
    if (chunk !== undefined) {
      this.buffered -= chunk.byteLength;
      if (!this.finReceived && this.readError === null) this.pull();
      return Promise.resolve(chunk);
    }
    if (this.finReceived) return Promise.resolve(null);
    if (this.readError !== null) return Promise.reject(this.readError);
    return new Promise<Uint8Array | null>((resolve, reject) => {
      this.readers.push({ resolve, reject });
      this.pull();
    });
  }

  write(data: Uint8Array): Promise<void> {
    if (this.writeError !== null) return Promise.reject(this.writeError);
    if (this.endPromise !== null) return Promise.reject(new Error(`stream ${this.id}: write after end()`));
    if (data.byteLength === 0) return RESOLVED;
    if (this.writes.length === 0 && !this.finReceived) return this.writeDirect(data);
    const p = this.enqueue(data, false);
    this.processWrites();
    return p;
  }

  /**
   * The common case of a write (nothing queued, no byte to hold back, see processWrites):
   * hand it to quiche at once; only what quiche cannot take now is queued.
   */
  private writeDirect(data: Uint8Array): Promise<void> {
    let n: number | null;
    try {
      n = this.send(data, false);
    } catch (err) {
      const p = Promise.reject(err as Error);
      p.catch(() => undefined); // see enqueue
      return p;
    }
    if (n !== null && n > 0) this.owner.scheduleFlush();
    if (n === data.byteLength) return RESOLVED;
    const p = this.enqueue(data, false);
    (this.writes[0] as PendingWrite).offset = n ?? 0;
    this.owner.setBlocked(this, true);
    return p;
  }

  end(): Promise<void> {
    if (this.endPromise !== null) return this.endPromise;
    if (this.writeError !== null) {
      this.endPromise = Promise.reject(this.writeError);
      this.endPromise.catch(() => undefined);
      return this.endPromise;
    }
    this.endPromise = this.enqueue(EMPTY, true);
    this.processWrites();
    return this.endPromise;
  }

  reset(code = 0): void {
    if (this.isClosed) return;
    this.abort(new LinkStreamResetError(code, `stream ${this.id} reset locally (code ${code})`), code);
  }

  /** quiche lists this stream as readable: pull what fits the buffer. */
  onReadable(): void {
    this.pull();
  }

  /**
   * Hand queued writes to quiche, as far as stream capacity allows.
   *
   * quiche 0.18 bug: SendBuf.is_complete() is `acked == 0..fin_off`; it does not track whether
   * the FIN itself was sent or acknowledged. Once a FIN is written, the next ACK that newly
   * acknowledges any of this stream's data (or our stream_recv of the peer's FIN) finds the stream
   * complete and collects it; a FIN frame not yet packetized then never leaves (send() skips
   * collected streams), and one already sent but lost is never retransmitted. The peer waits
   * forever for the end. Measured cause: a bare FIN (zero-length write with fin) written while
   * quiche had other streams' data queued and no congestion window left — streamCapacity still
   * said thousands of bytes (quiche's tx_cap is recomputed only when a datagram is processed and
   * does not count packet overhead nor data queued earlier), flushNow sent nothing, and the next
   * ACK collected the stream 1-3 ms later.
   *
   * So: (1) a queued FIN rides on the last data write; (2) once the peer has ended its side the
   * last byte of a write is held back (its promise resolves all the same) until end() or the next
   * turn, so that a FIN soon after still has data to ride on; (3) a bare FIN is written only
   * when it leaves at once (readyForBareFin), with urgent priority, followed by flushNow().
   */
  processWrites(): void {
    let progressed = false;
    while (this.writes.length > 0) {
      const w = this.writes[0];
      if (w === undefined) break;
      const next = this.writes[1];
      const finNext = !w.fin && next !== undefined && next.fin && next.data.byteLength === 0;
      const fin = w.fin || finNext;
      const hold = !fin && next === undefined && this.finReceived && !this.releaseHeld;
      const end = hold ? w.data.byteLength - 1 : w.data.byteLength;
      const bareFin = w.fin && w.data.byteLength === 0;
      if (bareFin && !this.readyForBareFin()) break; // retried when ACKs open the window
      if (bareFin) this.makeUrgent();
      if (w.offset < end || fin) {
        let n: number | null;
        try {
          n = this.send(w.data.subarray(w.offset, end), fin);
        } catch {
          return; // send() failed the stream and rejected the queue
        }
        if (n === null) break;
        if (n > 0) progressed = true;
        w.offset += n;
      }
      if (w.offset < end) break; // partial (a FIN was dropped too): retried when capacity returns
      if (hold) {
        if (!w.settled) {
          w.settled = true;
          w.resolve();
        }
        if (!this.releaseScheduled) {
          this.releaseScheduled = true;
          setImmediate(this.releaseHeldByte);
        }
        break;
      }
      this.writes.shift();
      if (finNext) this.writes.shift();
      if (fin) {
        this.finSent = true;
        progressed = true;
      }
      if (!w.settled) w.resolve();
      if (finNext) next.resolve();
      if (bareFin) this.owner.flushNow(); // out before any ACK is read (see readyForBareFin)
    }
    this.owner.setBlocked(this, this.writes.some((w) => !w.settled));
    if (progressed) this.owner.scheduleFlush();
    this.maybeFinished();
  }

  /**
   * A bare FIN must be in the very next packet (see processWrites). It is written only
   * - on a stream that never sent data (nothing of it can be acknowledged before the FIN), or
   * - while the connection's bare-FIN window is open (no packet sent since quiche processed the
   *   last received datagram: its capacity figure is then current) and the stream may send a
   *   whole packet now. The stream is made urgent (makeUrgent) so that its FIN frame goes ahead
   *   of other streams' queued data, and flushNow() follows the write.
   * Otherwise the FIN waits (the stream stays blocked) for the next received datagram; the
   * connection elicits an ACK so that one comes even on an idle link.
   */
  private readyForBareFin(): boolean {
    if (!this.onWire) return true;
    if (!this.owner.bareFinWindowOpen()) {
      this.owner.awaitBareFinWindow();
      return false;
    }
    const native = this.owner.native;
    try {
      // Room for a whole packet in the congestion window (capacity is min(stream credit, window)).
      if (native.streamCapacity(this.id) < BARE_FIN_MIN_CAPACITY) {
        this.owner.awaitBareFinWindow();
        return false;
      }
    } catch {
      // Already stopped or reset: streamSend reports the real state.
    }
    return true;
  }

  /** Highest urgency, not incremental: quiche emits this stream's frames before any other's. */
  private makeUrgent(): void {
    if (!this.onWire) return; // quiche has no such stream yet; the FIN is written with nothing ahead of it
    try {
      this.owner.native.streamPriority(this.id, 0, false);
    } catch {
      // stream gone (stopped): streamSend reports it
    }
  }

  private readonly releaseHeldByte = (): void => {
    this.releaseScheduled = false;
    if (this.writes.length === 0 || this.writeError !== null) return;
    this.releaseHeld = true;
    this.processWrites();
    this.releaseHeld = false;
    // Still held back (no capacity now): the connection retries it with the blocked writers.
    if (this.writes.length > 0) this.owner.setBlocked(this, true);
  };

  /** The connection ended: fail what is pending; buffered data stays readable. */
  connectionClosed(err: LinkClosedError): void {
    if (this.readError === null) this.readError = err;
    if (this.writeError === null) this.writeError = err;
    this.failReaders(err);
    this.failWrites(err);
    this.finish();
  }

  private enqueue(data: Uint8Array, fin: boolean): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      this.writes.push({ data, offset: 0, fin, settled: false, resolve, reject });
    });
    // A caller that does not await (e.g. `void stream.end()`) must not crash the process with
    // an unhandled rejection when the link drops; callers that await still see the error.
    p.catch(() => undefined);
    return p;
  }

  /** streamSend with error mapping: null when quiche has no capacity now. */
  private send(data: Uint8Array, fin: boolean): number | null {
    try {
      const n = this.owner.native.streamSend(this.id, data, fin);
      if (n !== null) this.onWire = true;
      return n;
    } catch (e) {
      const name = nativeErrorName(e);
      if (name === 'StreamLimit' || name === 'Done') return null;
      const stopped = streamStoppedCode(e);
      const err =
        stopped !== null
          ? new LinkStreamResetError(stopped)
          : new Error(`stream ${this.id}: write failed (${name})`);
      if (stopped === null) this.owner.debug(`stream ${this.id} streamSend`, e);
      this.abort(err, stopped ?? 0);
      throw err;
    }
  }

  /** Read from quiche while below the buffer bound, then serve waiting readers. */
  private pull(): void {
    const native = this.owner.native;
    let read = false;
    while (this.onWire && !this.finReceived && this.readError === null && this.buffered < this.owner.readBufferBytes) {
      const scratch = this.owner.recvScratch();
      let r: [number, boolean] | null;
      try {
        r = native.streamRecv(this.id, scratch);
      } catch (e) {
        const code = streamResetCode(e);
        if (code !== null) {
          this.abort(new LinkStreamResetError(code), code);
        } else if (nativeErrorName(e) !== 'Done') {
          this.owner.debug(`stream ${this.id} streamRecv`, e);
          this.abort(new Error(`stream ${this.id}: read failed (${nativeErrorName(e)})`), 0);
        }
        break;
      }
      if (r === null) break;
      const [n, fin] = r;
      if (n > 0) {
        read = true;
        // Copy out: the scratch buffer is reused and a 64 KiB slab per small chunk would bloat memory.
        const chunk = Buffer.allocUnsafe(n);
        scratch.copy(chunk, 0, 0, n);
        this.chunks.push(chunk);
        this.buffered += n;
      }
      if (fin) this.finReceived = true;
      else if (n === 0) break;
    }
    if (read) this.owner.scheduleFlush(); // reading returns flow-control credit
    this.serveReaders();
    this.maybeFinished();
  }

  private serveReaders(): void {
    while (this.readers.length > 0) {
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        this.buffered -= chunk.byteLength;
        this.readers.shift()?.resolve(chunk);
      } else if (this.finReceived) {
        this.readers.shift()?.resolve(null);
      } else if (this.readError !== null) {
        this.failReaders(this.readError);
      } else {
        break;
      }
    }
  }

  /** Abort both directions (local reset, peer reset or stop, stream error). */
  private abort(err: Error, code: number): void {
    if (this.readError === null) this.readError = err;
    if (this.writeError === null) this.writeError = err;
    const native = this.owner.native;
    for (const dir of [ShutdownDirection.Read, ShutdownDirection.Write]) {
      try {
        native.streamShutdown(this.id, dir, code);
      } catch {
        // Done / InvalidStreamState: that direction is already finished.
      }
    }
    this.chunks.length = 0;
    this.buffered = 0;
    this.failReaders(err);
    this.failWrites(err);
    this.owner.scheduleFlush();
    this.finish();
  }

  private failReaders(err: Error): void {
    const readers = this.readers;
    this.readers = [];
    for (const r of readers) r.reject(err);
  }

  private failWrites(err: Error): void {
    const writes = this.writes;
    this.writes = [];
    this.owner.setBlocked(this, false);
    for (const w of writes) if (!w.settled) w.reject(err);
  }

  private maybeFinished(): void {
    const readDone = this.finReceived || this.readError !== null;
    const writeDone = this.finSent || this.writeError !== null;
    if (readDone && writeDone) this.finish();
  }

  private finish(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.owner.streamFinished(this);
    this.resolveClosed();
  }
}
