/**
 * Which upper node a lower node should be linked to (PROTOCOL.md §5, several upper
 * nodes): pure bookkeeping over a clock the caller passes in, no timers, no I/O.
 *
 * - Preference: lower `priority` first; among equal priorities the order of rendezvous
 *   hashing of the lower node's own name with each server's key, so a fleet of lower
 *   nodes spreads evenly and a failed server moves only its own lower nodes.
 * - Failover: a server whose link or probe failed is down until its retry time
 *   (exponential backoff per server, or a longer delay after a refusal).
 * - Failback: a more preferred server is taken back only once it has been healthy for
 *   `failbackMs` without a break and at least `failbackMs` after the last switch, so a
 *   link that comes and goes causes at most one switch per `failbackMs`.
 */
import { createHash } from 'node:crypto';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';

/** A server as the selector knows it. */
interface SelectorServer {
  /** "host:port". */
  key: string;
  priority: number;
}

/** Health of one server as last seen. */
type ServerHealth = 'unknown' | 'up' | 'down';

/** What the selector knows of one server. */
interface ServerRecord extends SelectorServer {
  health: ServerHealth;
  /** Since when it has been up without a break (ms on the caller's clock), or null. */
  upSince: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** When a down server may be tried again. */
  retryAt: number | null;
  /** Failures in a row. */
  failures: number;
}

/** Options of {@link UpstreamSelector}. */
interface UpstreamSelectorOptions {
  /** 0: never move back to a better server. */
  failbackMs: number;
  backoff?: BackoffPolicy;
  /** Random source of the backoff jitter. */
  random?: () => number;
}

/** Rendezvous (highest random weight) score of `server` for lower node `node`. */
function rendezvousScore(node: string, server: string): number {
  return createHash('sha256').update(node).update('\0').update(server).digest().readUIntBE(0, 6);
}

/** Servers in preference order for lower node `node`: priority, then rendezvous score (highest first), then key. */
export function preferenceOrder(node: string, servers: readonly SelectorServer[]): SelectorServer[] {
  return servers
    .map((s) => ({ s, score: rendezvousScore(node, s.key) }))
    .sort((a, b) => a.s.priority - b.s.priority || b.score - a.score || (a.s.key < b.s.key ? -1 : 1))
    .map((x) => x.s);
}

export class UpstreamSelector {
  private readonly records: ServerRecord[];
  private readonly opts: Required<UpstreamSelectorOptions>;
  private lastSwitchAt = -Infinity;

  constructor(nodeName: string, servers: readonly SelectorServer[], options: UpstreamSelectorOptions) {
    if (servers.length === 0) throw new RangeError('at least one server');
    this.records = preferenceOrder(nodeName, servers).map((s) => ({
      ...s,
      health: 'unknown',
      upSince: null,
      lastError: null,
      lastErrorAt: null,
      retryAt: null,
      failures: 0,
    }));
    this.opts = { backoff: DEFAULT_BACKOFF, random: Math.random, ...options };
  }

  /** Every server in preference order (copies). */
  list(): ServerRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** The server reached (link online or probe answered). */
  up(key: string, now: number): void {
    const r = this.get(key);
    if (r.health !== 'up') r.upSince = now;
    r.health = 'up';
    r.failures = 0;
    r.retryAt = null;
  }

  /** The server failed (link lost, handshake or probe failed); retried after a backoff, or `minDelayMs` if longer. */
  down(key: string, now: number, error: string, minDelayMs = 0): void {
    const r = this.get(key);
    r.health = 'down';
    r.upSince = null;
    r.failures++;
    r.lastError = error;
    r.lastErrorAt = now;
    r.retryAt = now + Math.max(minDelayMs, backoffDelay(r.failures, this.opts.backoff, this.opts.random));
  }

  /** The link moved (failover or failback) at `now`. */
  switched(now: number): void {
    this.lastSwitchAt = now;
  }

  /**
   * The server to connect to when there is no link: the most preferred one not
   * waiting out a failure; else `wait` until the earliest retry.
   */
  next(now: number): { key: string } | { waitUntil: number } {
    const ready = this.records.find((r) => r.health !== 'down' || (r.retryAt ?? 0) <= now);
    if (ready) return { key: ready.key };
    return { waitUntil: Math.min(...this.records.map((r) => r.retryAt ?? now)) };
  }

  /** A more preferred server than `current` to move back to now, or null. */
  failbackTarget(current: string, now: number): string | null {
    const f = this.opts.failbackMs;
    if (f <= 0 || now - this.lastSwitchAt < f) return null;
    for (const r of this.records) {
      if (r.key === current) return null;
      if (r.health === 'up' && r.upSince !== null && now - r.upSince >= f) return r.key;
    }
    return null;
  }

  /** When {@link failbackTarget} may next give an answer other than null (for a timer), or null when nothing is pending. */
  failbackDueAt(current: string): number | null {
    const f = this.opts.failbackMs;
    if (f <= 0) return null;
    for (const r of this.records) {
      if (r.key === current) return null;
      if (r.health === 'up' && r.upSince !== null) return Math.max(r.upSince + f, this.lastSwitchAt + f);
    }
    return null;
  }

  private get(key: string): ServerRecord {
    const r = this.records.find((x) => x.key === key);
    if (!r) throw new RangeError(`unknown server ${key}`);
    return r;
  }
}
