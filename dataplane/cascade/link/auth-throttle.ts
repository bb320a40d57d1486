import { AdmissionBucket } from './admission.js';

/**
 * Bounds on records created by auto-registration (PROTOCOL.md §5, throttling). Every
 * count is a fixed window of `windowMs`; 0 turns a bound off.
 */
export interface RegistrationLimits {
  /** Records created per source address per window. */
  perAddress: number;
  /** Records created per window in all. */
  perWindow: number;
  /** Records created per second in the long run (token bucket). */
  ratePerSec: number;
  /** Records created at once after a quiet period. */
  burst: number;
  /** Window length, ms (default one hour). */
  windowMs?: number;
}

/** Defaults of {@link RegistrationLimits}. */
export const DEFAULT_REGISTRATION_LIMITS: Readonly<Required<RegistrationLimits>> = Object.freeze({
  perAddress: 10,
  perWindow: 100,
  ratePerSec: 1,
  burst: 20,
  windowMs: 3_600_000, // one hour
});

/** Whether one more record may be created for a caller. */
export type RegistrationVerdict =
  | { ok: true }
  | {
      ok: false;
      /** Which bound: the caller's address, the total per window, or the rate. */
      scope: 'address' | 'window' | 'rate';
      retryAfterMs: number;
      /** First refusal of this scope (and address) in the window: log it. */
      first: boolean;
    };

/** Counters of auto-registration since start and in the current window. */
export interface RegistrationStats {
  created: number;
  refused: number;
  createdInWindow: number;
  windowStartedAt: Date;
}

/** Per-address authentication failure limit (PROTOCOL.md §5, throttling). */
export interface AuthThrottleOptions {
  /** Failures allowed per window before the address is refused (default 10). */
  limit: number;
  /** Window length, ms (default 60 000). */
  windowMs: number;
  /** Addresses tracked at most; the oldest window is dropped beyond (default 10 000). */
  maxEntries?: number;
  /** Bounds on auto-registration (default {@link DEFAULT_REGISTRATION_LIMITS}). */
  registration?: RegistrationLimits;
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

interface RegistrationEntry {
  windowStart: number;
  created: number;
  reported: boolean;
}

/**
 * Counts, per remote address in fixed windows, authentication failures and records
 * created by auto-registration; and records created in all (per window and by rate).
 * Pure apart from the clock.
 */
export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly registrations = new Map<string, RegistrationEntry>();
  private readonly maxEntries: number;
  /** Effective registration bounds. */
  readonly registrationLimits: Readonly<Required<RegistrationLimits>>;
  private readonly registrationBucket: AdmissionBucket;
  private windowStart: number;
  private createdInWindow = 0;
  private windowReported = { window: false, rate: false };
  private created = 0;
  private refused = 0;

  constructor(
    private readonly options: AuthThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.registrationLimits = Object.freeze({ ...DEFAULT_REGISTRATION_LIMITS, ...options.registration });
    this.registrationBucket = new AdmissionBucket({ ratePerSec: this.registrationLimits.ratePerSec, burst: this.registrationLimits.burst }, now);
    this.windowStart = now();
  }

  /**
   * Counts one record about to be created for a caller at `address`, or refuses it
   * when a bound is reached (nothing is counted then, except the refusal).
   */
  admitRegistration(address: string): RegistrationVerdict {
    const l = this.registrationLimits;
    const t = this.now();
    if (t - this.windowStart >= l.windowMs) {
      this.windowStart = t;
      this.createdInWindow = 0;
      this.windowReported = { window: false, rate: false };
    }
    let e = this.registrations.get(address);
    if (e && t - e.windowStart >= l.windowMs) {
      this.registrations.delete(address);
      e = undefined;
    }
    const refuse = (scope: 'address' | 'window' | 'rate', retryAfterMs: number): RegistrationVerdict => {
      this.refused++;
      let first: boolean;
      if (scope === 'address' && e) {
        first = !e.reported;
        e.reported = true;
      } else {
        const key = scope === 'rate' ? 'rate' : 'window';
        first = !this.windowReported[key];
        this.windowReported[key] = true;
      }
      return { ok: false, scope, retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)), first };
    };
    if (l.perAddress > 0 && e && e.created >= l.perAddress) return refuse('address', e.windowStart + l.windowMs - t);
    if (l.perWindow > 0 && this.createdInWindow >= l.perWindow) return refuse('window', this.windowStart + l.windowMs - t);
    if (!this.registrationBucket.take()) return refuse('rate', l.ratePerSec > 0 ? 1_000 / l.ratePerSec : 1_000);
    if (!e) {
      if (this.registrations.size >= this.maxEntries) {
        const oldest = this.registrations.keys().next();
        if (!oldest.done) this.registrations.delete(oldest.value);
      }
      e = { windowStart: t, created: 0, reported: false };
      this.registrations.set(address, e);
    }
    e.created++;
    this.createdInWindow++;
    this.created++;
    return { ok: true };
  }

  /** Auto-registration counters. */
  get registrationStats(): RegistrationStats {
    const fresh = this.now() - this.windowStart < this.registrationLimits.windowMs;
    return {
      created: this.created,
      refused: this.refused,
      createdInWindow: fresh ? this.createdInWindow : 0,
      windowStartedAt: new Date(this.windowStart),
    };
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

  /** Addresses currently tracked, the larger of failures and registrations (for tests and metrics). */
  get size(): number {
    return Math.max(this.entries.size, this.registrations.size);
  }
}
