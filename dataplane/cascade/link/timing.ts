/** Resolve with the promise's value, or with `fallback` after `ms`. Never rejects. */
export async function settleWithin<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.catch(() => fallback),
      new Promise<T>((resolve) => {
        timer = setTimeout(() => resolve(fallback), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** A sleep that can be cut short. */
export class Sleeper {
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    this.cancel();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(() => this.cancel(), ms);
    });
  }

  /** End the current sleep now (no-op when not sleeping). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

/** Monotonic milliseconds. */
export const monoNow = (): number => performance.now();
