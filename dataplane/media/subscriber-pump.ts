/**
 * Moves tags from a {@link Subscriber} into a transport that has its own
 * backpressure (socket, HTTP response, WebSocket). While the transport is
 * full the pump waits; the subscriber's bounded queue absorbs (and skips or
 * drops) meanwhile, so the publisher is never slowed.
 */
import type { MediaTag } from './media-tag.js';
import type { Subscriber } from './stream-subscriber.js';

/** A transport a pump writes into. */
export interface TagSink {
  /** Write one tag; false when the transport's buffer is full. */
  write(tag: MediaTag): boolean;
  /** Resolves true once the transport can take more, false when it closed. */
  drained(): Promise<boolean>;
}

/** Pump until the subscriber ends or the sink closes. Never rejects when the sink does not throw. */
export async function pumpSubscriber(sub: Subscriber, sink: TagSink): Promise<void> {
  for (;;) {
    let tag = sub.poll();
    if (tag === undefined) tag = await sub.next();
    if (tag === null) return;
    if (!sink.write(tag)) {
      if (!(await sink.drained())) return;
    }
  }
}

/** A transport a merged pump writes whole batches into. */
export interface BatchSink {
  /** Write every tag of `tags` in one go (one syscall); false when the transport's buffer is full. */
  writeBatch(tags: readonly MediaTag[]): boolean;
  /** Resolves true once the transport can take more, false when it closed. */
  drained(): Promise<boolean>;
}

/**
 * Pump with write merging: the first batch (headers and the cached GOP, or
 * the first tag when nothing is cached) goes out at once; afterwards the first tag that arrives opens
 * a window of `mergeMs` during which further tags queue in the subscriber,
 * and the whole window goes out as one batch. Right after a full transport
 * drained, whatever queued meanwhile goes out at once. `mergeMs` 0 writes
 * whatever is queued whenever the pump wakes. Each player then costs about
 * one write syscall per window instead of one per tag; the added latency is
 * at most `mergeMs`. Never rejects when the sink does not throw.
 */
export async function pumpMerged(sub: Subscriber, sink: BatchSink, mergeMs: number): Promise<void> {
  let batch: MediaTag[] = [];
  let first = true;
  for (;;) {
    let tag = sub.poll();
    if (tag === undefined) {
      tag = await sub.next();
      if (tag !== null && mergeMs > 0 && !first) {
        batch.push(tag);
        await delay(mergeMs);
        tag = sub.poll();
      }
    }
    while (tag !== undefined && tag !== null) {
      batch.push(tag);
      tag = sub.poll();
    }
    if (batch.length > 0) {
      const ok = sink.writeBatch(batch);
      batch = [];
      first = false;
      if (!ok && !(await sink.drained())) return;
    }
    if (tag === null) return;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `drained()` for a Node writable with `'drain'` and `'close'` events. */
export function waitDrain(stream: NodeJS.EventEmitter & { destroyed: boolean }): Promise<boolean> {
  if (stream.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onDrain = (): void => {
      stream.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      stream.off('drain', onDrain);
      resolve(false);
    };
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}
