/** Reconnect delay policy of a cascade client (PROTOCOL.md §5). */
export interface BackoffPolicy {
  /** Delay after the first failure, ms (default 500). */
  initialMs: number;
  /** Upper bound, ms (default 30 000). */
  maxMs: number;
  /** Fraction taken off at random, 0..1 (default 0.2: delay in [0.8, 1.0] × base). */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({ initialMs: 500, maxMs: 30_000, jitter: 0.2 });

/**
 * Delay before reconnect attempt number `failures` (1 = after the first failure):
 * min(maxMs, initialMs · 2^(failures−1)), minus up to `jitter` of it at random.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(failures));
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(n - 1, 30));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base * (1 - policy.jitter * r));
}
