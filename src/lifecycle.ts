/**
 * The parts of a running node, stopped in the reverse of the order they started:
 * a part that needs another (HTTP needs the hub, the links need HTTP) is started
 * after it and stopped before it.
 */
import type { Logger } from './logger.js';

export class Lifecycle {
  private readonly started: { name: string; stop: () => Promise<void> | void }[] = [];

  constructor(private readonly logger: Logger) {}

  /** Starts part `name` and remembers how to stop it; resolves with what `start` made. */
  async start<T>(name: string, start: () => Promise<T> | T, stop: (part: T) => Promise<void> | void): Promise<T> {
    const part = await start();
    this.started.push({ name, stop: () => stop(part) });
    return part;
  }

  /** Registers `stop` to run before every part started so far (for a part started early that must stop early too). */
  stopFirst(name: string, stop: () => Promise<void> | void): void {
    this.started.push({ name, stop });
  }

  /** Stops every started part, last started first; a failing stop is logged and the others still stop. */
  async stop(): Promise<void> {
    for (let p = this.started.pop(); p; p = this.started.pop()) {
      try {
        await p.stop();
      } catch (err) {
        this.logger.warn({ err }, `stopping ${p.name}`);
      }
    }
  }
}
