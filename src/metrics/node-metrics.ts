/**
 * The node's Prometheus metrics. Most are read from existing state when scraped (the
 * client records, the cascade server's sessions, the upper link's status, the hub's
 * streams and byte counts, the forwarding registry); a few count events as they happen
 * (reconnects, refused links, relayed requests). Names and labels: README "Metrics".
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CascadeServer, Forwarding, Upstream } from '../../dataplane/cascade/index.js';
import type { StreamHub, StreamTraffic } from '../../dataplane/media/index.js';
import { closeCodeInfo } from '../../dataplane/protocol/index.js';
import type { Logger } from '../logger.js';
import type { ClientService } from '../services/client.service.js';
import type { EventBus } from '../services/event-bus.js';
import type { NodeEvents } from '../services/events.js';
import { BoundedLabels } from './bounded-labels.js';

/** What the metrics read. */
export interface NodeMetricsSources {
  hub: StreamHub;
  clients: ClientService;
  events: EventBus<NodeEvents>;
  server: CascadeServer | null;
  upper: Upstream | null;
  forwarding: Forwarding | null;
  logger: Logger;
  /** Stream paths with their own byte counters (`metrics.maxstreamlabels`). */
  maxStreamLabels: number;
}

/** Process metrics (event-loop lag, heap, RSS, GC) are per process: one registry, made once, shared by every node of the process. */
let processRegistry: Registry | null = null;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Most lower-node record ids remembered to tell a reconnect from a first connect. */
const MAX_REMEMBERED_LINKS = 100_000;

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly offs: (() => void)[] = [];
  private readonly relayRequests: Counter<'class'>;
  private readonly relayDuration: Histogram;

  constructor(s: NodeMetricsSources) {
    const reg = [this.registry];
    const log = s.logger.child({ component: 'metrics' });

    // One read of the client records serves the three link gauges of a scrape: prom-client
    // collects the metrics of a registry concurrently, so they share the promise.
    let reading: Promise<LinkSnapshot> | null = null;
    const links = (): Promise<LinkSnapshot> =>
      (reading ??= readLinks(s, log).finally(() => {
        reading = null;
      }));
    new Gauge({
      name: 'cascade_clients',
      help: 'Lower-node client records by state (online: the record has a live link).',
      labelNames: ['state'],
      registers: reg,
      async collect() {
        this.reset();
        const snap = await links();
        if (!snap.lower) return;
        const online = snap.lower.filter((l) => l.up).length;
        this.set({ state: 'online' }, online);
        this.set({ state: 'offline' }, snap.lower.length - online);
      },
    });
    new Gauge({
      name: 'cascade_link_up',
      help: 'Whether a cascade link is up (1) or down (0): link="lower" per client record, link="upstream" for the link to the upper node.',
      labelNames: ['link', 'peer'],
      registers: reg,
      async collect() {
        this.reset();
        const snap = await links();
        for (const l of snap.lower ?? []) this.set({ link: 'lower', peer: l.peer }, l.up ? 1 : 0);
        if (snap.upstream) this.set({ link: 'upstream', peer: snap.upstream.peer }, snap.upstream.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'cascade_link_rtt_seconds',
      help: 'Smoothed round-trip time of a live cascade link.',
      labelNames: ['link', 'peer'],
      registers: reg,
      async collect() {
        this.reset();
        const snap = await links();
        for (const l of snap.lower ?? []) if (l.rttMs !== null) this.set({ link: 'lower', peer: l.peer }, l.rttMs / 1000);
        const up = snap.upstream;
        if (up && up.rttMs !== null) this.set({ link: 'upstream', peer: up.peer }, up.rttMs / 1000);
      },
    });

    const reconnects = zeroedCounter(
      reg,
      'cascade_link_reconnects_total',
      'Cascade links that came up again after an earlier link of the same peer (link="upstream": this node to its upper node; link="lower": lower nodes to this node).',
      'link',
      ['upstream', 'lower'],
    );
    const authFailures = new Counter({
      name: 'cascade_auth_failures_total',
      help: 'Lower-node connections this cascade server refused, by close code name.',
      labelNames: ['reason'],
      registers: reg,
    });
    this.offs.push(s.events.on('authRejected', (e) => authFailures.inc({ reason: closeCodeInfo(e.code).name })));
    if (s.upper) {
      const switches = zeroedCounter(
        reg,
        'cascade_upstream_switches_total',
        'Moves of the link up to another upper node (cascade-client.servers), by reason: failover (the link was lost) or failback (back to a preferred server).',
        'reason',
        ['failover', 'failback'],
      );
      let lastSwitch: object | null = null;
      this.offs.push(
        s.events.on('upstreamChanged', (u) => {
          if (u.lastSwitch === null || u.lastSwitch === lastSwitch) return;
          lastSwitch = u.lastSwitch;
          switches.inc({ reason: u.lastSwitch.reason.startsWith('failback') ? 'failback' : 'failover' });
        }),
      );
      // A reconnect is a change to online after an earlier online (not a repeated online status).
      let state = 'connecting';
      let wasOnline = false;
      this.offs.push(
        s.upper.on('stateChanged', (st) => {
          if (st.state === 'online' && state !== 'online') {
            if (wasOnline) reconnects.inc({ link: 'upstream' });
            wasOnline = true;
          }
          state = st.state;
        }),
      );
    }
    if (s.server) {
      const seen = new Set<number>();
      this.offs.push(
        s.server.on('online', (e) => {
          if (seen.has(e.clientId)) reconnects.inc({ link: 'lower' });
          else if (seen.size < MAX_REMEMBERED_LINKS) seen.add(e.clientId);
        }),
      );
    }

    new Gauge({
      name: 'stream_publishers',
      help: 'Live streams of this node by the protocol of their publisher (rtmp, cascade, ...).',
      labelNames: ['protocol'],
      registers: reg,
      collect() {
        this.reset();
        for (const st of s.hub.list()) this.inc({ protocol: st.publisher.protocol });
      },
    });
    new Gauge({
      name: 'stream_subscribers',
      help: 'Subscribers of this node\'s streams by protocol (rtmp, http-flv, ws-flv, cascade, ...).',
      labelNames: ['protocol'],
      registers: reg,
      collect() {
        this.reset();
        for (const st of s.hub.list()) for (const sub of s.hub.subscribers(st.path)) this.inc({ protocol: sub.protocol });
      },
    });

    const paths = new BoundedLabels(s.maxStreamLabels);
    // Bytes of each live stream already added to the counters; an ended stream adds its rest when it ends.
    const counted = new Map<string, StreamTraffic>();
    const add = (path: string, now: StreamTraffic): void => {
      const before = counted.get(path) ?? { bytesIn: 0, bytesOut: 0 };
      if (now.bytesIn <= before.bytesIn && now.bytesOut <= before.bytesOut) return;
      const label = { path: paths.label(path) };
      if (now.bytesIn > before.bytesIn) bytesIn.inc(label, now.bytesIn - before.bytesIn);
      if (now.bytesOut > before.bytesOut) bytesOut.inc(label, now.bytesOut - before.bytesOut);
    };
    const bytesIn = new Counter({
      name: 'stream_bytes_in_total',
      help: 'Bytes of media tag bodies received from publishers, by stream path (paths past metrics.maxstreamlabels: path="other").',
      labelNames: ['path'],
      registers: reg,
      collect: () => syncTraffic(),
    });
    const bytesOut = new Counter({
      name: 'stream_bytes_out_total',
      help: 'Bytes of media tag bodies delivered to subscribers (players and forwardings), by stream path (paths past metrics.maxstreamlabels: path="other").',
      labelNames: ['path'],
      registers: reg,
      collect: () => syncTraffic(),
    });
    // Brings both byte counters up to date with the live streams (a second call in one scrape adds nothing).
    const syncTraffic = (): void => {
      for (const t of s.hub.traffic()) {
        add(t.path, t);
        counted.set(t.path, { bytesIn: t.bytesIn, bytesOut: t.bytesOut });
      }
    };
    new Gauge({
      name: 'stream_live',
      help: 'Live streams by path (1; path="other": how many of the paths past metrics.maxstreamlabels are live).',
      labelNames: ['path'],
      registers: reg,
      collect() {
        this.reset();
        for (const st of s.hub.list()) this.inc({ path: paths.label(st.path) });
      },
    });
    const onUnpublished = (path: string, _reason: string, traffic: StreamTraffic): void => {
      add(path, traffic);
      counted.delete(path);
    };
    this.offs.push(s.hub.on('unpublished', onUnpublished));

    // What cascade_forward_bytes_total has counted so far, per direction.
    const sent = { push: 0, pull: 0 };
    const forwarded = new Counter({
      name: 'cascade_forward_bytes_total',
      help: 'Bytes of media sent over cascade links by this node: direction="push" to the upper node, direction="pull" to nodes that pulled from it.',
      labelNames: ['direction'],
      registers: reg,
      collect() {
        const registry = s.forwarding?.registry;
        if (!registry) return;
        const now = { push: registry.bytesSent('PUSHED_OUT'), pull: registry.bytesSent('PULLED_OUT') };
        for (const d of ['push', 'pull'] as const) {
          if (now[d] > sent[d]) this.inc({ direction: d }, now[d] - sent[d]);
          sent[d] = Math.max(sent[d], now[d]);
        }
      },
    });
    forwarded.inc({ direction: 'push' }, 0);
    forwarded.inc({ direction: 'pull' }, 0);

    this.relayRequests = new Counter({
      name: 'relay_requests_total',
      help: 'API calls relayed to lower nodes (/api/relay/…), by class of the status answered (2xx, 3xx, 4xx, 5xx).',
      labelNames: ['class'],
      registers: reg,
    });
    for (const c of ['2xx', '3xx', '4xx', '5xx']) this.relayRequests.inc({ class: c }, 0);
    this.relayDuration = new Histogram({
      name: 'relay_request_duration_seconds',
      help: 'Time from receiving a relayed API call to the end of its answer.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: reg,
    });
  }

  /** Counts one relayed API call that was answered with `status` after `seconds` (0: no answer was sent). */
  readonly observeRelay = (status: number, seconds: number): void => {
    const c = Math.floor(status / 100);
    this.relayRequests.inc({ class: c >= 2 && c <= 5 ? `${c}xx` : '5xx' });
    this.relayDuration.observe(seconds);
  };

  /** The Prometheus text exposition: this node's metrics, then the process's. */
  async text(): Promise<string> {
    const [own, proc] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${proc}`;
  }

  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;

  /** Stops listening to the node's events (idempotent). */
  close(): void {
    for (const off of this.offs.splice(0)) off();
  }
}

/** The state of this node's cascade links at one moment. */
interface LinkSnapshot {
  /** One entry per client record (the lower nodes); null when the records cannot be read (database down). */
  lower: { peer: string; up: boolean; rttMs: number | null }[] | null;
  upstream: { peer: string; up: boolean; rttMs: number | null } | null;
}

async function readLinks(s: NodeMetricsSources, log: Logger): Promise<LinkSnapshot> {
  const records = await s.clients.list().catch((err: unknown) => {
    log.warn({ err }, 'client records unavailable for /metrics');
    return null;
  });
  const lower = records?.map((r) => {
    const live = s.server?.session(r.id) ?? null;
    return { peer: r.name, up: live !== null, rttMs: live?.rttMs ?? null };
  }) ?? null;
  const st = s.upper?.status();
  const upstream = st ? { peer: st.serverName ?? st.server, up: st.state === 'online', rttMs: st.rttMs } : null;
  return { lower, upstream };
}

/** A counter with one label, every value of which is shown from the start (at 0). */
function zeroedCounter<L extends string>(reg: Registry[], name: string, help: string, label: L, values: readonly string[]): Counter<L> {
  const c = new Counter({ name, help, labelNames: [label], registers: reg });
  for (const v of values) c.inc({ [label]: v } as Partial<Record<L, string>>, 0);
  return c;
}
