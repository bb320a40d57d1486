import type { Logger } from 'pino';

/** A listener of one event. */
type Listener<T> = (payload: T) => void | Promise<void>;

/**
 * Minimal typed event emitter. A listener that throws (or rejects) is logged and the
 * other listeners still run: a faulty subscriber never breaks a session.
 */
export class TypedEmitter<E extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();
  protected readonly emitterLogger: Logger;

  constructor(logger: Logger) {
    this.emitterLogger = logger;
  }

  /** Subscribe; returns a function that unsubscribes. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Subscribe to the next emission only. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (p) => {
      off();
      return listener(p);
    });
    return off;
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  protected emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const l of [...set]) {
      try {
        const r = (l as Listener<E[K]>)(payload);
        if (r instanceof Promise) {
          r.catch((err: unknown) => this.emitterLogger.error({ err, event: String(event) }, 'event listener failed'));
        }
      } catch (err) {
        this.emitterLogger.error({ err, event: String(event) }, 'event listener failed');
      }
    }
  }
}
