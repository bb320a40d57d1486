/**
 * The lower node's links up when it has several upper nodes (`cascade-client.servers`):
 * one {@link UpperLink} at a time, to the server the {@link UpstreamSelector} prefers.
 *
 * - A link lost (heartbeat, close, refused handshake) moves to the next server at once;
 *   a server that failed waits out its own backoff.
 * - The other servers are probed every `probeIntervalMs` (a QUIC handshake, closed
 *   before HELLO: nothing is registered there), so the state of each is known and a
 *   better server is taken back once it has been healthy for `failbackMs`.
 * - To forwarding it looks like one link: `status()`, `stateChanged`, `announce`,
 *   `openStream`, `onStream` follow the current link.
 *
 * With one server it is that server's UpperLink and nothing more (its own reconnect
 * loop with backoff).
 */
import type { Logger } from 'pino';
import type { LinkStream } from '../../transport/link.js';
import { CloseCode, closeReason, type AnnounceUpdate, type StreamKindValue } from '../../protocol/index.js';
import { Emitter } from '../../events.js';
import { CascadeError } from '../errors.js';
import type { CascadeStreamHandler } from '../stream-handler.js';
import { serverKey } from './known-servers.js';
import { ServerVerifier, type CascadeServerVerification } from './server-verifier.js';
import { monoNow, settleWithin } from './timing.js';
import { DEFAULT_CLIENT_TIMING, UpperLink, type UpperLinkEvents, type UpperLinkOptions, type UpperLinkStatus } from './upper-link.js';
import { UpstreamSelector } from './upstream-selector.js';

/** One upper node of the list. */
interface UpstreamServerOptions {
  server: { host: string; port: number };
  priority: number;
  /** Absent or null: none (autoregister). */
  secret: string | null;
  verify: CascadeServerVerification;
}

/** Options of {@link UpstreamSupervisor}: those of {@link UpperLink} but with a list of servers. */
interface UpstreamSupervisorOptions extends Omit<UpperLinkOptions, 'server' | 'secret' | 'verify'> {
  servers: UpstreamServerOptions[];
  /** How long a better server must stay healthy before moving back to it, ms; 0: never. */
  failbackMs: number;
  /** How often the servers other than the current one are probed, ms. */
  probeIntervalMs: number;
}

/** One configured server as GraphQL `upstream.servers` shows it. */
export interface UpstreamServerStatus {
  /** "host:port". */
  server: string;
  priority: number;
  /** current: the link in use (or being opened); standby: reachable at the last probe (or not yet tried); down: failed. */
  state: 'current' | 'standby' | 'down';
  lastError: string | null;
  lastErrorAt: Date | null;
  /** When a down server is tried again. */
  nextRetryAt: Date | null;
  /** Since when it has answered without a break. */
  healthySince: Date | null;
}

/** A move of the link from one server to another. */
export interface UpstreamSwitch {
  /** Null for the first link. */
  from: string | null;
  to: string;
  /** Why: "failover: <error of the lost link>" or "failback: …". */
  reason: string;
  /** When the new link came up. */
  at: Date;
  /** From the decision to move to the new link online, ms. */
  tookMs: number;
}

/** Every configured server and the last switch. */
export interface UpstreamOverview {
  servers: UpstreamServerStatus[];
  lastSwitch: UpstreamSwitch | null;
}

/** Events of an {@link UpstreamSupervisor}: the current link's, and each switch. */
type UpstreamEvents = UpperLinkEvents & {
  switched: [change: UpstreamSwitch];
  /** A server not in use went down or came back (a probe). */
  serversChanged: [];
};

/** What the link up looks like to its users (forwarding, services): one UpperLink or a supervisor. */
export type Upstream = Pick<UpperLink, 'status' | 'onStream' | 'openStream' | 'announce'> & Pick<Emitter<UpperLinkEvents>, 'on'>;

interface PendingSwitch {
  from: string | null;
  reason: string;
  startedAt: number;
}

export class UpstreamSupervisor extends Emitter<UpstreamEvents> {
  private readonly logger: Logger;
  private readonly selector: UpstreamSelector;
  private readonly servers: Map<string, UpstreamServerOptions & { verifier: ServerVerifier | null; lastProbeAt: number }>;
  private readonly handlers = new Map<StreamKindValue, CascadeStreamHandler>();
  /** Unregister functions of the handlers on the last link made. */
  private readonly linkHandlerOffs = new Map<StreamKindValue, () => void>();
  private readonly probes = new Set<Promise<void>>();
  private readonly probing = new Set<string>();
  /** Monotonic ms → wall clock, for the dates shown. */
  private readonly epoch = Date.now() - monoNow();
  private link: UpperLink | null = null;
  /** The last link made (the current one, or the one just stopped during a switch). */
  private lastLink!: UpperLink;
  private linkKey: string | null = null;
  private linkOffs: (() => void)[] = [];
  private pending: PendingSwitch | null = null;
  private lastSwitch: UpstreamSwitch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private stopping = false;
  private stopPromise: Promise<void> | null = null;
  /** Serialises switches: one link is stopped before the next starts. */
  private switching: Promise<void> = Promise.resolve();

  constructor(private readonly opts: UpstreamSupervisorOptions) {
    const logger = opts.logger.child({ component: 'upstream' });
    super(logger);
    this.logger = logger;
    if (opts.servers.length === 0) throw new CascadeError('CASCADE_CONFIG', 'cascade client: no upper node configured');
    const multi = opts.servers.length > 1;
    this.servers = new Map(
      opts.servers.map((s) => [
        serverKey(s.server.host, s.server.port),
        { ...s, verifier: multi ? new ServerVerifier(serverKey(s.server.host, s.server.port), s.verify) : null, lastProbeAt: -Infinity },
      ]),
    );
    if (this.servers.size !== opts.servers.length) throw new CascadeError('CASCADE_CONFIG', 'cascade client: a server is listed twice');
    const t = { ...DEFAULT_CLIENT_TIMING, ...opts.timing };
    this.selector = new UpstreamSelector(
      opts.name,
      [...this.servers].map(([key, s]) => ({ key, priority: s.priority })),
      {
        failbackMs: opts.failbackMs,
        backoff: { initialMs: t.backoffInitialMs, maxMs: t.backoffMaxMs, jitter: t.backoffJitter },
        ...(opts.random ? { random: opts.random } : {}),
      },
    );
    // Built now (not at start) so a bad name or secret is refused at build time, like a single UpperLink.
    this.use(this.selector.list()[0]!.key);
  }

  /** The current link's status (the preferred server's before start). */
  status(): UpperLinkStatus {
    return (this.link ?? this.lastLink).status();
  }

  /** Every configured server in preference order, and the last switch. */
  overview(): UpstreamOverview {
    const now = monoNow();
    const date = (ms: number | null): Date | null => (ms === null ? null : new Date(this.epoch + ms));
    return {
      servers: this.selector.list().map((r) => {
        const current = r.key === this.linkKey;
        return {
          server: r.key,
          priority: r.priority,
          state: current ? 'current' : r.health === 'down' ? 'down' : 'standby',
          lastError: r.lastError,
          lastErrorAt: date(r.lastErrorAt),
          nextRetryAt: !current && r.health === 'down' ? date(Math.max(now, r.retryAt ?? now)) : null,
          healthySince: date(r.upSince),
        };
      }),
      lastSwitch: this.lastSwitch,
    };
  }

  /** Start keeping a link up. Idempotent. */
  start(): void {
    if (this.stopping) throw new CascadeError('CASCADE_STATE', 'cascade client was stopped');
    if (this.started) return;
    this.started = true;
    this.link!.start();
    if (this.servers.size > 1) {
      this.timer = setInterval(() => this.tick(), Math.min(250, this.opts.probeIntervalMs));
      this.timer.unref();
    }
  }

  /** Close the link and the probes; no more switches. Bounded; idempotent. */
  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      if (this.timer) clearInterval(this.timer);
      await this.switching;
      await this.link?.stop();
      await settleWithin(Promise.all(this.probes), DEFAULT_CLIENT_TIMING.stopTimeoutMs, undefined);
    })();
    return this.stopPromise;
  }

  /** Handle streams of `kind` opened by the server, on every link. Returns an unregister function. */
  onStream(kind: StreamKindValue, handler: CascadeStreamHandler): () => void {
    const off = this.lastLink.onStream(kind, handler); // throws for the control stream
    this.handlers.set(kind, handler);
    this.linkHandlerOffs.set(kind, off);
    return () => {
      if (this.handlers.get(kind) !== handler) return;
      this.handlers.delete(kind);
      this.linkHandlerOffs.get(kind)?.();
      this.linkHandlerOffs.delete(kind);
    };
  }

  /** Open a stream of `kind` on the current link (online only). */
  openStream(kind: StreamKindValue): Promise<LinkStream> {
    if (!this.link) return Promise.reject(new CascadeError('CASCADE_NOT_ONLINE', 'no cascade link is up'));
    return this.link.openStream(kind);
  }

  /** Announce streams on the current link (online only). */
  announce(update: AnnounceUpdate): Promise<void> {
    if (!this.link) return Promise.reject(new CascadeError('CASCADE_NOT_ONLINE', 'no cascade link is up'));
    return this.link.announce(update);
  }

  /** Make an (unstarted) UpperLink to `key` the current link. */
  private use(key: string): UpperLink {
    const s = this.servers.get(key)!;
    const { servers: _s, failbackMs: _f, probeIntervalMs: _p, ...common } = this.opts;
    const link = new UpperLink({ ...common, server: s.server, secret: s.secret, verify: s.verify });
    this.linkHandlerOffs.clear();
    for (const [kind, h] of this.handlers) this.linkHandlerOffs.set(kind, link.onStream(kind, h));
    this.link = link;
    this.lastLink = link;
    this.linkKey = key;
    this.linkOffs = [
      link.on('stateChanged', (st) => this.onLinkState(link, key, st)),
      link.on('announce', (m) => {
        if (this.link === link) this.emit('announce', m);
      }),
    ];
    return link;
  }

  private onLinkState(link: UpperLink, key: string, st: UpperLinkStatus): void {
    if (this.link !== link) return;
    const now = monoNow();
    if (st.state === 'online') {
      this.selector.up(key, now);
      this.completeSwitch(key, now);
    } else if (st.state === 'backoff' || st.state === 'rejected') {
      const error = st.lastError ?? st.state;
      const delay = st.nextAttemptAt ? Math.max(0, st.nextAttemptAt.getTime() - Date.now()) : 0;
      this.selector.down(key, now, error, st.state === 'rejected' ? delay : 0);
      if (this.servers.size > 1 && !this.stopping) {
        this.pending ??= { from: key, reason: `failover: ${error}`, startedAt: now };
        this.logger.warn({ server: key, reason: error }, 'link to upper node lost; failing over');
        this.connectNext();
      }
    }
    this.emit('stateChanged', st);
  }

  private completeSwitch(key: string, now: number): void {
    const p = this.pending;
    this.pending = null;
    if (p === null) return;
    this.selector.switched(now);
    if (p.from === key) {
      this.logger.info({ server: key, downMs: Math.round(now - p.startedAt) }, 'link to upper node back on the same server');
      return;
    }
    this.lastSwitch = { from: p.from, to: key, reason: p.reason, at: new Date(), tookMs: Math.round(now - p.startedAt) };
    this.logger.info({ from: p.from, to: key, reason: p.reason, tookMs: this.lastSwitch.tookMs }, 'upper node switched');
    this.emit('switched', this.lastSwitch);
  }

  /** Move to the best server that may be tried now, or wait for the timer. */
  private connectNext(): void {
    const n = this.selector.next(monoNow());
    if ('key' in n) this.switchTo(n.key);
    else if (this.link) this.switchTo(null);
  }

  /** Stop the current link and start one to `key` (null: none until the next tick). */
  private switchTo(key: string | null): void {
    const old = this.link;
    for (const off of this.linkOffs.splice(0)) off();
    this.link = null;
    this.linkKey = key;
    this.switching = this.switching.then(async () => {
      if (old) await old.stop();
      if (this.stopping || key === null || this.linkKey !== key) return;
      this.logger.info({ server: key, reason: this.pending?.reason }, 'connecting to upper node');
      this.use(key).start();
    });
  }

  private tick(): void {
    if (this.stopping) return;
    const now = monoNow();
    if (this.link === null && this.linkKey === null) {
      this.connectNext();
    } else if (this.link && this.linkKey && this.link.status().state === 'online') {
      const back = this.selector.failbackTarget(this.linkKey, now);
      if (back) {
        const reason = `failback: ${back} healthy for ${this.opts.failbackMs} ms`;
        this.pending = { from: this.linkKey, reason, startedAt: now };
        this.logger.info({ from: this.linkKey, to: back, reason }, 'moving back to the preferred upper node');
        this.switchTo(back);
      }
    }
    for (const r of this.selector.list()) {
      if (r.key === this.linkKey || this.probing.has(r.key)) continue;
      const s = this.servers.get(r.key)!;
      const due = r.health === 'down' ? (r.retryAt ?? 0) <= now : now - s.lastProbeAt >= this.opts.probeIntervalMs;
      if (due) this.probe(r.key);
    }
  }

  /** A QUIC handshake to `key`, closed at once: up or down. */
  private probe(key: string): void {
    const s = this.servers.get(key)!;
    const t = { ...DEFAULT_CLIENT_TIMING, ...this.opts.timing };
    s.lastProbeAt = monoNow();
    this.probing.add(key);
    const p = (async () => {
      try {
        const link = await this.opts.transport.connect({
          host: s.server.host,
          port: s.server.port,
          ...(this.opts.tlsServerName !== undefined ? { serverName: this.opts.tlsServerName } : {}),
          ...(this.opts.localAddress !== undefined ? { localAddress: this.opts.localAddress } : {}),
          ...s.verifier!.connectOptions(s.server.host),
          maxIdleTimeoutMs: t.maxIdleTimeoutMs,
          keepAliveIntervalMs: t.keepAliveIntervalMs,
          connectTimeoutMs: Math.min(t.connectTimeoutMs, Math.max(1_000, 2 * this.opts.probeIntervalMs)),
        });
        await settleWithin(link.close(CloseCode.ClientShutdown, closeReason(CloseCode.ClientShutdown)), t.closeTimeoutMs, undefined);
        if (this.linkKey !== key) this.probed(key, null);
      } catch (err) {
        if (this.linkKey !== key) this.probed(key, `probe failed: ${(err as Error).message}`);
      } finally {
        this.probing.delete(key);
      }
    })();
    this.probes.add(p);
    void p.finally(() => this.probes.delete(p));
  }

  /** Record a probe's outcome (`error` null: it answered); tell listeners when the server's health changed. */
  private probed(key: string, error: string | null): void {
    const was = this.selector.list().find((r) => r.key === key)?.health;
    if (error === null) this.selector.up(key, monoNow());
    else this.selector.down(key, monoNow(), error);
    const now = this.selector.list().find((r) => r.key === key)?.health;
    if (now !== was) {
      this.logger.info({ server: key, health: now, ...(error ? { reason: error } : {}) }, now === 'up' ? 'upper node answers' : 'upper node not answering');
      this.emit('serversChanged');
    }
  }
}
