/** Per-address authentication failure limit (PROTOCOL.md §5, throttling). */
export interface AuthThrottleOptions {
  /** Failures allowed per window before the address is refused (default 10). */
  limit: number;
  /** Window length, ms (default 60 000). */
  windowMs: number;
  /** Addresses tracked at most; the oldest window is dropped beyond (default 10 000). */
  maxEntries?: number;
}

/** The throttle's verdict for a new connection. */
export type ThrottleVerdict =
  | { throttled: false }
  | { throttled: true; /** First refusal in this window: log/report it. */ first: boolean; retryAfterMs: number };

interface Entry {
  windowStart: number;
  failures: number;
  reported: boolean;
}

/** Counts authentication failures per remote address in fixed windows. Pure apart from the clock. */
export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;

  constructor(
    private readonly options: AuthThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  private current(address: string): Entry | undefined {
    const e = this.entries.get(address);
    if (e && this.now() - e.windowStart >= this.options.windowMs) {
      this.entries.delete(address);
      return undefined;
    }
    return e;
  }

  /** Check a new connection from `address`. */
  check(address: string): ThrottleVerdict {
    const e = this.current(address);
    if (!e || e.failures < this.options.limit) return { throttled: false };
    const first = !e.reported;
    e.reported = true;
    return { throttled: true, first, retryAfterMs: Math.max(0, e.windowStart + this.options.windowMs - this.now()) };
  }

  /** Count one failed authentication from `address`. */
  recordFailure(address: string): void {
    let e = this.current(address);
    if (!e) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      e = { windowStart: this.now(), failures: 0, reported: false };
      this.entries.set(address, e);
    }
    e.failures++;
  }

  /** Addresses currently tracked (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }
}
