/**
 * A small typed event emitter whose emit never throws: an exception in a
 * listener is logged and the other listeners still run (mediasoup style).
 */
import type { Logger } from 'pino';

/** Event name → listener argument tuple. */
type EventMap = { [event: string]: unknown[] };

/** Typed emitter; subclasses call {@link SafeEmitter.emit}. */
export class SafeEmitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, unknown[]>();

  constructor(protected readonly emitterLogger: Logger) {}

  /** Add a listener. */
  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.listeners.get(event);
    if (list === undefined) this.listeners.set(event, [listener]);
    else list.push(listener);
    return this;
  }

  /** Add a listener that runs at most once. */
  once<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const wrapper = (...args: E[K]): void => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  /** Remove a listener. */
  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.listeners.get(event);
    if (list === undefined) return this;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /** Remove every listener (of one event, or of all). */
  removeAllListeners(event?: keyof E): this {
    if (event === undefined) this.listeners.clear();
    else this.listeners.delete(event);
    return this;
  }

  /** Number of listeners of an event. */
  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const list = this.listeners.get(event);
    if (list === undefined || list.length === 0) return;
    for (const listener of list.slice()) {
      try {
        (listener as (...a: E[K]) => void)(...args);
      } catch (err) {
        this.emitterLogger.error({ err, event: String(event) }, 'event listener threw');
      }
    }
  }
}
