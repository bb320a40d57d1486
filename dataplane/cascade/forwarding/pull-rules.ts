/**
 * Pull rules (cascade-client.pull[] and rules added at runtime): while the link is up
 * and the local `streamPath` is not live, pull the rule's `pullUrl` path from the upper
 * node, retried every `retryMs` (PROTOCOL.md §10).
 */
import { StreamKind } from '../../protocol/index.js';
import { isValidStreamPath } from '../../media/stream-path.js';
import type { ForwardingHost } from './media-open.js';
import { pullIn, type PullHandle } from './media-pull.js';
import type { UpperSide } from './context.js';

/** A pull rule: keep `streamPath` pulled from the upper node's `pullUrl` (cascade://app/name). */
export interface PullRule {
  streamPath: string;
  pullUrl: string;
}

/** Parse `cascade://app/name` into `app/name`, or null. */
export function pullUrlPath(url: string): string | null {
  const m = /^cascade:\/\/(.+)$/.exec(url);
  return m ? m[1]! : null;
}

export class PullRules {
  private rules: PullRule[] = [];
  /** Running pulls by local path. */
  private readonly handles = new Map<string, PullHandle>();
  /** Rules already warned about (invalid paths), by local path. */
  private readonly bad = new Set<string>();
  private readonly timer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** Without a link up (`upper` null) the rules are only kept. */
  constructor(
    private readonly host: ForwardingHost,
    private readonly upper: UpperSide | null,
    retryMs: number,
  ) {
    if (upper === null) return;
    this.timer = setInterval(() => this.reconcile(), retryMs);
    this.timer.unref();
  }

  /** Replace the rules. Removed rules stop their pull at once. */
  set(rules: readonly PullRule[]): void {
    this.rules = rules.map((r) => ({ ...r }));
    for (const [path, h] of this.handles) {
      if (!this.rules.some((r) => r.streamPath === path)) {
        h.cancel('pull rule removed');
        this.handles.delete(path);
      }
    }
    this.reconcile();
  }

  /** The rules in force. */
  list(): PullRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Start the pull of every rule whose stream is not live here (link up only). */
  reconcile(): void {
    const upper = this.upper;
    if (this.stopped || upper === null || !upper.online()) return;
    for (const rule of this.rules) {
      if (this.handles.has(rule.streamPath) || this.host.hub.has(rule.streamPath)) continue;
      const remote = pullUrlPath(rule.pullUrl);
      if (!remote || !isValidStreamPath(rule.streamPath) || !isValidStreamPath(remote)) {
        if (!this.bad.has(rule.streamPath)) this.host.logger.warn({ rule }, 'pull rule ignored: invalid stream path');
        this.bad.add(rule.streamPath);
        continue;
      }
      const h = pullIn(this.host, {
        open: () => upper.open(StreamKind.MediaPull),
        remotePath: remote,
        localPath: rule.streamPath,
        peerName: upper.name(),
        requestChain: [],
        fromUpper: true,
        onDemand: false,
        resume: upper.resume,
      });
      this.handles.set(rule.streamPath, h);
      void h.done.then((reason) => {
        if (this.handles.get(rule.streamPath) === h) this.handles.delete(rule.streamPath);
        const r = h.refusal();
        if (r) this.host.logger.debug({ streamPath: rule.streamPath, reason: r.reason }, 'pull rule: upper node does not have the stream yet; retrying');
        else this.host.logger.info({ streamPath: rule.streamPath, reason }, 'pull rule: pull ended');
      });
    }
  }

  /** Stop every rule's pull and the retries. Idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const h of this.handles.values()) h.cancel('node stopping');
    this.handles.clear();
  }
}
