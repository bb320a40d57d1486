/**
 * A small typed publish/subscribe bus: services publish, GraphQL subscriptions
 * and internal listeners consume. Each subscription has a bounded queue (the
 * oldest events are dropped past it), so a slow WebSocket never grows memory.
 */
import { EventEmitter } from 'node:events';

export class EventBus<M extends { [K in keyof M]: unknown }> {
  private readonly emitter = new EventEmitter();
  constructor(private readonly onListenerError: (err: unknown, topic: string) => void = () => {}) {
    this.emitter.setMaxListeners(0);
  }

  /** Deliver `payload` to every listener and subscription of `topic`. Never throws. */
  publish<K extends keyof M & string>(topic: K, payload: M[K]): void {
    for (const l of this.emitter.listeners(topic)) {
      try {
        (l as (p: M[K]) => void)(payload);
      } catch (err) {
        this.onListenerError(err, topic);
      }
    }
  }

  /** Register a synchronous listener; returns the function that removes it. */
  on<K extends keyof M & string>(topic: K, listener: (payload: M[K]) => void): () => void {
    this.emitter.on(topic, listener);
    return () => this.emitter.off(topic, listener);
  }

  /** An async iterator of the topic's events from now on (for GraphQL subscriptions). */
  subscribe<K extends keyof M & string>(topic: K, maxQueue = 1000): AsyncIterableIterator<M[K]> {
    const queue: M[K][] = [];
    let wake: ((r: IteratorResult<M[K]>) => void) | null = null;
    let done = false;
    const off = this.on(topic, (payload) => {
      if (wake) {
        const w = wake;
        wake = null;
        w({ value: payload, done: false });
        return;
      }
      queue.push(payload);
      if (queue.length > maxQueue) queue.shift();
    });
    const finish = (): IteratorResult<M[K]> => {
      done = true;
      off();
      queue.length = 0;
      const w = wake;
      wake = null;
      w?.({ value: undefined, done: true });
      return { value: undefined, done: true };
    };
    const it: AsyncIterableIterator<M[K]> = {
      next: () => {
        if (done) return Promise.resolve({ value: undefined, done: true });
        const v = queue.shift();
        if (v !== undefined) return Promise.resolve({ value: v, done: false });
        return new Promise((resolve) => (wake = resolve));
      },
      return: () => Promise.resolve(finish()),
      throw: (err?: unknown) => {
        finish();
        return Promise.reject(err);
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }
}
