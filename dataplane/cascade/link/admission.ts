/**
 * Admission control for new cascade links (PROTOCOL.md §6, Admission): a token
 * bucket so that a storm of connections (every lower node reconnecting after an
 * HQ restart) is admitted at a bounded rate instead of starving the node. The
 * excess is closed with `Busy`, which clients retry with backoff and jitter.
 */

/** Options of an {@link AdmissionBucket}. */
export interface AdmissionOptions {
  /** Links admitted per second in the long run. 0 or Infinity: no limit. */
  ratePerSec: number;
  /** Links admitted at once after a quiet period. */
  burst: number;
}

/** A token bucket. Pure apart from the clock. */
export class AdmissionBucket {
  private tokens: number;
  private last: number;
  private refusedSinceReport = 0;
  private admitted = 0;
  private refused = 0;

  constructor(
    private readonly options: AdmissionOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = Math.max(1, options.burst);
    this.last = now();
  }

  private get unlimited(): boolean {
    return !(this.options.ratePerSec > 0) || !Number.isFinite(this.options.ratePerSec);
  }

  /** Takes a token for one new link; false when the link must be refused. */
  take(): boolean {
    if (this.unlimited) {
      this.admitted++;
      return true;
    }
    const t = this.now();
    this.tokens = Math.min(Math.max(1, this.options.burst), this.tokens + ((t - this.last) / 1000) * this.options.ratePerSec);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.admitted++;
      return true;
    }
    this.refused++;
    this.refusedSinceReport++;
    return false;
  }

  /** Refusals since the last call (for a periodic log line), and resets that count. */
  takeRefusedSinceReport(): number {
    const n = this.refusedSinceReport;
    this.refusedSinceReport = 0;
    return n;
  }

  /** Totals since start (for tests and metrics). */
  get stats(): { admitted: number; refused: number } {
    return { admitted: this.admitted, refused: this.refused };
  }
}
