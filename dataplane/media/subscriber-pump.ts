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
