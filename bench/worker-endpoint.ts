/**
 * bench/worker.ts arrangement (b): the lean QUIC endpoint in a worker_threads Worker.
 * It listens, reads every stream the peer opens, and hands the bytes to the main
 * thread: all chunks read in one event-loop turn (or 256 KiB, whichever first) are
 * copied into one fresh ArrayBuffer and posted with it transferred, together with the
 * streams opened and ended meanwhile. Flow control: a stream is read only while fewer
 * than WINDOW bytes of it are posted and not yet consumed by the main thread (the main
 * thread acks consumed bytes), so a slow hub holds the data in QUIC's flow control,
 * as the main-thread arrangement does, instead of queueing it in messages. A total
 * cap over all streams (1 MiB) bounds the backlog the main thread can find at once: a
 * MessagePort delivers every queued message in one turn, so without it 80 streams x
 * 512 KiB could land in a single turn (seen: a 1.2 s event-loop stall).
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { createLeanQuicTransport, type LinkStream } from '../dataplane/transport/index.js';
import { threadIdOf, type FromEndpoint, type ToEndpoint } from './worker-shared.js';

const WINDOW = 512 * 1024;
/** All streams together: bounds what one main-thread turn may have to process (see the header). */
const TOTAL_WINDOW = 1024 * 1024;
const FLUSH_BYTES = 256 * 1024;

interface StreamState {
  stream: LinkStream;
  outstanding: number;
  wake: (() => void) | null;
}

const port = parentPort;
if (port === null) throw new Error('worker-endpoint.ts runs as a worker thread');
const { tls } = workerData as { tls: { certPem: string; keyPem: string } };

const streams = new Map<number, StreamState>();
let nextSid = 1;
let opens: number[] = [];
let fins: number[] = [];
let pending: { sid: number; chunk: Uint8Array }[] = [];
let pendingBytes = 0;
let scheduled = false;
let totalOutstanding = 0;
/** Streams waiting for credit. */
const blocked = new Set<StreamState>();

function post(msg: FromEndpoint, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(msg, transfer);
}

function flush(): void {
  scheduled = false;
  if (pending.length === 0 && opens.length === 0 && fins.length === 0) return;
  const buf = new ArrayBuffer(pendingBytes);
  const bytes = new Uint8Array(buf);
  const index = new Uint32Array(pending.length * 2);
  let o = 0;
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    bytes.set(p.chunk, o);
    o += p.chunk.byteLength;
    index[2 * i] = p.sid;
    index[2 * i + 1] = p.chunk.byteLength;
  }
  post({ t: 'batch', opens, index, buf, fins }, [buf, index.buffer as ArrayBuffer]);
  opens = [];
  fins = [];
  pending = [];
  pendingBytes = 0;
}

function schedule(): void {
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

async function pump(stream: LinkStream): Promise<void> {
  const sid = nextSid++;
  const st: StreamState = { stream, outstanding: 0, wake: null };
  streams.set(sid, st);
  opens.push(sid);
  schedule();
  try {
    for (;;) {
      while (st.outstanding >= WINDOW || totalOutstanding >= TOTAL_WINDOW) {
        blocked.add(st);
        await new Promise<void>((r) => (st.wake = r));
      }
      const c = await stream.read();
      if (c === null) break;
      st.outstanding += c.byteLength;
      totalOutstanding += c.byteLength;
      pending.push({ sid, chunk: c });
      pendingBytes += c.byteLength;
      if (pendingBytes >= FLUSH_BYTES) flush();
      else schedule();
    }
  } catch {
    // reset or link closed: reported as the end of the stream
  }
  streams.delete(sid);
  fins.push(sid);
  schedule();
}

const listener = await createLeanQuicTransport().listen({
  host: '127.0.0.1',
  port: 0,
  tls,
  onConnection(link) {
    link.onStream = (s) => void pump(s);
  },
});

port.on('message', (msg: ToEndpoint) => {
  if (msg.t === 'ack') {
    const c = msg.credits;
    for (let i = 0; i + 1 < c.length; i += 2) {
      totalOutstanding -= c[i + 1]!;
      const st = streams.get(c[i]!);
      if (st !== undefined) st.outstanding -= c[i + 1]!;
    }
    if (totalOutstanding < TOTAL_WINDOW) {
      for (const st of blocked) {
        if (st.outstanding >= WINDOW || st.wake === null) continue;
        blocked.delete(st);
        const w = st.wake;
        st.wake = null;
        w();
      }
    }
  } else if (msg.t === 'reset') {
    streams.get(msg.sid)?.stream.reset(msg.code);
  } else if (msg.t === 'close') {
    void listener.close().finally(() => {
      post({ t: 'closed' });
      port.close();
    });
  }
});

post({ t: 'ready', port: listener.address.port, tid: threadIdOf(readFileSync('/proc/thread-self/stat', 'utf8')) });
