/**
 * Admission of new players, so a saturated node refuses at once (HTTP 503,
 * RTMP `NetStream.Play.Failed` and close) instead of leaving players
 * unanswered: a cap on concurrent players, and optionally a cap on the
 * event-loop lag (a node whose loop already runs late cannot serve one more
 * player in real time).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Options of {@link PlayerAdmission}. */
export interface PlayerAdmissionOptions {
  /** Most concurrent players; 0 = no cap. Default 0. */
  maxPlayers?: number;
  /**
   * Refuse while the event loop runs this late without let-up: its worst delay exceeded
   * this in each of the last three 500 ms windows, ms; 0 = off. Default 0. One stall (a
   * collection, a module loading) does not refuse anyone; a saturated loop does.
   */
  maxEventLoopLagMs?: number;
}

const LAG_WINDOW_MS = 500;
/** Windows in a row the loop must lag in before players are refused. */
const LAG_WINDOWS = 3;

/** Counts players and decides whether one more may start. */
export class PlayerAdmission {
  private count = 0;
  private readonly maxPlayers: number;
  private readonly maxLagMs: number;
  private histogram: IntervalHistogram | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lagMs = 0;
  /** Worst delay of each of the last LAG_WINDOWS windows, newest last. */
  private recent: number[] = [];

  constructor({ maxPlayers = 0, maxEventLoopLagMs = 0 }: PlayerAdmissionOptions = {}) {
    this.maxPlayers = maxPlayers;
    this.maxLagMs = maxEventLoopLagMs;
    if (maxEventLoopLagMs > 0) {
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      this.histogram = h;
      this.timer = setInterval(() => {
        this.lagMs = h.max / 1e6;
        h.reset();
        this.recent.push(this.lagMs);
        if (this.recent.length > LAG_WINDOWS) this.recent.shift();
      }, LAG_WINDOW_MS);
      this.timer.unref();
    }
  }

  /** Current players. */
  get players(): number {
    return this.count;
  }

  /** Worst event-loop delay of the last window, ms (0 when not monitored). */
  get eventLoopLagMs(): number {
    return this.lagMs;
  }

  /** The delay the loop has kept up over the last windows: the least of their worst delays, ms. */
  private sustainedLagMs(): number {
    return this.recent.length < LAG_WINDOWS ? 0 : Math.min(...this.recent);
  }

  /** Take a player slot: null when admitted (call {@link PlayerAdmission.release} later), else the reason for refusing. */
  admit(): string | null {
    if (this.maxPlayers > 0 && this.count >= this.maxPlayers) return `player limit ${this.maxPlayers} reached`;
    const lag = this.maxLagMs > 0 ? this.sustainedLagMs() : 0;
    if (lag > this.maxLagMs) return `event loop lag ${Math.round(lag)} ms or more for ${(LAG_WINDOWS * LAG_WINDOW_MS) / 1000} s`;
    this.count++;
    return null;
  }

  /** Give back a slot taken by {@link PlayerAdmission.admit}. */
  release(): void {
    if (this.count > 0) this.count--;
  }

  /** Stop the lag monitor. Idempotent. */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.histogram?.disable();
    this.histogram = null;
  }
}
