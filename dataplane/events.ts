/**
 * The data plane's one typed event emitter. `on()` and `once()` return the function
 * that removes the listener. `emit` never throws: an exception thrown (or a promise
 * rejected) by a listener is logged and the other listeners still run (mediasoup
 * style), so a faulty listener never breaks a stream or a session.
 */
import type { Logger } from 'pino';

/** Event name → listener argument tuple. */
type EventMap = { [event: string]: unknown[] };

/** A listener of event `K` of map `E`. */
type Listener<E extends EventMap, K extends keyof E> = (...args: E[K]) => unknown;

/** Typed emitter; subclasses call {@link Emitter.emit}. */
export class Emitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, unknown[]>();

  constructor(protected readonly emitterLogger: Logger) {}

  /** Add a listener; returns the function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E, K>): () => void {
    const list = this.listeners.get(event);
    if (list === undefined) this.listeners.set(event, [listener]);
    else list.push(listener);
    return () => this.off(event, listener);
  }

  /** Add a listener that runs at most once; returns the function that removes it. */
  once<K extends keyof E>(event: K, listener: Listener<E, K>): () => void {
    const wrapper = (...args: E[K]): unknown => {
      this.off(event, wrapper);
      return listener(...args);
    };
    return this.on(event, wrapper);
  }

  /** Remove a listener. */
  off<K extends keyof E>(event: K, listener: Listener<E, K>): void {
    const list = this.listeners.get(event);
    if (list === undefined) return;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const list = this.listeners.get(event);
    if (list === undefined || list.length === 0) return;
    for (const listener of list.slice()) {
      try {
        const r = (listener as Listener<E, K>)(...args);
        if (r instanceof Promise) r.catch((err: unknown) => this.failed(err, event));
      } catch (err) {
        this.failed(err, event);
      }
    }
  }

  private failed(err: unknown, event: keyof E): void {
    this.emitterLogger.error({ err, event: String(event) }, 'event listener threw');
  }
}
