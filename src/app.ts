/**
 * Assembles one node from its configuration: database, services, HTTP
 * (GraphQL + REST), and the data plane. `main.ts` is the only caller that
 * listens on real ports by default; tests build apps on port 0.
 */
import { createFlvHandler, startRtmpServer, StreamHub, type RtmpServer } from '../dataplane/media/index.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UpstreamSupervisor, CascadeServer, Forwarding, relayResponder, type RelayExecutor } from '../dataplane/cascade/index.js';
import { CloseCode, StreamKind } from '../dataplane/protocol/index.js';
import {
  createLeanQuicTransport,
  resolveUdpImplementation,
  defaultTransport,
  LEAN_QUIC_DEFAULTS,
  loadOrCreateIdentity,
  type TlsIdentity,
  type Transport,
} from '../dataplane/transport/index.js';
import type { Config, PlayerConfig } from './config.js';
import { ConfigError } from './config.js';
import { DatabaseCascadeAuthority } from './services/cascade-authority.js';
import { ForwardingService } from './services/forwarding.service.js';
import { PullRuleService } from './services/pull-rule.service.js';
import { CascadeService } from './services/cascade.service.js';
import { openDatabase } from './db/database.js';
import { clientRoutes } from './http/rest-clients.js';
import { streamRoutes } from './http/rest-streams.js';
import { consoleFiles } from './http/console-files.js';
import { startHttpServer, type HttpServer } from './http/http-server.js';
import { createRelayExecutor } from './http/relay-executor.js';
import { createRelayRoute } from './http/relay-route.js';
import { RelayService } from './services/relay.service.js';
import { createLogger, type Logger } from './logger.js';
import { Lifecycle } from './lifecycle.js';
import type { ClientService } from './services/client.service.js';
import { lowerNodeSecret, openClientService } from './security/identity-setup.js';
import { createPublishGate, reservedBy } from './services/publish-auth.js';
import { nodeSecurity } from './services/node-security.js';
import { EventBus } from './services/event-bus.js';
import type { NodeEvents } from './services/events.js';
import type { NodeRole, Services } from './services/index.js';
import { StreamService } from './services/stream.service.js';
import { VERSION } from './version.js';
import { startMetrics, type MetricsPart } from './metrics/index.js';
import { ClusterNode } from './cluster/cluster-node.js';

export interface App {
  readonly config: Config;
  readonly logger: Logger;
  /** Available after start(). */
  readonly services: Services;
  /** Bound addresses, available after start(). */
  readonly addresses: {
    http: { host: string; port: number };
    rtmp: { host: string; port: number };
    /** The QUIC address of the cascade server role, when it is on. */
    quic: { host: string; port: number } | null;
    /** The address of `metrics.listenaddr`, or null when /metrics is on the HTTP listener. */
    metrics: { host: string; port: number } | null;
  };
  /** The media hub (available after start()). */
  readonly hub: StreamHub;
  /** The QUIC transport of the cascade links (available after start()). */
  readonly transport: Transport;
  start(): Promise<void>;
  /** Stops everything, in reverse order; bounded and idempotent. */
  stop(): Promise<void>;
}

interface BuildOptions {
  logger?: Logger;
}

/** What a started node holds; the App's getters read it. */
interface Running {
  services: Services;
  hub: StreamHub;
  transport: Transport;
  http: HttpServer;
  rtmp: RtmpServer;
  server: CascadeServer | null;
  metrics: MetricsPart;
}

export function buildApp(config: Config, opts: BuildOptions = {}): App {
  const logger = opts.logger ?? createLogger(config.log.level, config.name);
  const roles = nodeRoles(config);
  const parts = new Lifecycle(logger);
  let running: Running | null = null;
  let stopping: Promise<void> | null = null;

  const started = (): Running => {
    if (!running) throw new Error('app not started');
    return running;
  };
  const app: App = {
    config,
    logger,
    get services() {
      return started().services;
    },
    get addresses() {
      const r = started();
      return { http: r.http.address, rtmp: r.rtmp.address, quic: r.server?.address ?? null, metrics: r.metrics.address };
    },
    get hub() {
      return started().hub;
    },
    get transport() {
      return started().transport;
    },
    async start() {
      logger.info({ version: VERSION, roles, config: config.file ?? '(defaults)', datadir: config.datadir }, 'node starting');
      try {
        running = await startParts(config, logger, roles, parts);
        logger.info('node started');
      } catch (err) {
        await app.stop();
        throw err;
      }
    },
    stop() {
      stopping ??= parts.stop().then(() => logger.info('node stopped'));
      return stopping;
    },
  };
  return app;
}

function nodeRoles(config: Config): NodeRole[] {
  const roles: NodeRole[] = ['MEDIA'];
  if (config.cascadeServer) roles.push('CASCADE_SERVER');
  if (config.cascadeClient) roles.push('CASCADE_CLIENT');
  return roles;
}

/**
 * Builds and starts the node's parts in order: database, media hub, RTMP, HTTP, the
 * cascade server, the link to the upper node, forwarding. `parts` stops them in reverse.
 * A new part is built here once and started with `parts.start(name, start, stop)` after
 * the parts it uses.
 */
async function startParts(config: Config, logger: Logger, roles: NodeRole[], parts: Lifecycle): Promise<Running> {
  const db = await parts.start('database', () => openDatabase(config.database, logger), (d) => d.close());
  const events = new EventBus<NodeEvents>((err, topic) => logger.error({ err, topic }, 'event listener failed'));
  const clients = await openClientService(db, events, config.datadir, logger, config.cluster !== null);
  const transport = linkTransport(config, logger);
  const cc0 = config.cluster;
  const cluster = cc0 ? await parts.start('cluster', () => ClusterNode.join(cc0, { clients, events, logger, transport, nodeName: config.name, version: VERSION }), (c) => c.close()) : null;
  const n = cluster ? await cluster.markStaleOffline() : await clients.markAllOffline();
  if (n > 0) logger.info({ count: n }, 'clients marked offline at start');
  const hub = await parts.start('stream hub', () => new StreamHub({ logger }), (h) => h.close());
  const streams = await parts.start('stream service', () => new StreamService(hub, events), (s) => s.close());

  // The optional cascade roles: built now, started once HTTP listens.
  const { cascadeServer: sc, cascadeClient: cc } = config;
  const lower = sc ? await buildCascadeServer(config, sc, { transport, clients, events, logger, cluster }) : null;
  const upper = cc ? await buildUpperLink(config, cc, { transport, events, logger }) : null;
  const server = lower?.server ?? null;
  const forwarding =
    server || upper
      ? new Forwarding({
          hub,
          logger,
          nodeName: config.name,
          server,
          client: upper,
          peers: cluster?.peers ?? null,
          autopush: cc?.autopush ?? false,
          onDemandGraceMs: config.forwarding.onDemandGraceMs,
          onDemand: config.forwarding.onDemand,
          // With several upper nodes a stream pulled from above outlives a failover.
          holdMs: (cc?.servers.length ?? 0) > 1 ? HOLD_ACROSS_FAILOVER_MS : 0,
        })
      : null;
  const pullRules = new PullRuleService(db, cc?.pull ?? [], upper && forwarding ? (rules) => forwarding.setPullRules(rules) : null);
  await pullRules.load();
  if (cluster) pullRules.setChangeListener(cluster.onPeerChange('pull-rules', () => void pullRules.load().catch((err: unknown) => logger.warn({ err }, 'pull rules not reloaded'))));
  const services: Services = {
    node: { name: config.name, version: VERSION, startedAt: new Date(), roles, fingerprint: server?.fingerprint ?? null, security: nodeSecurity(config) },
    clients,
    streams,
    cascade: new CascadeService(server, upper, sc?.autoregister ?? false),
    forwarding: new ForwardingService(forwarding, hub, clients, server, upper, pullRules, events, config.name),
    relay: new RelayService(clients, server, cluster?.view ?? null),
    events,
    feed: cluster?.feed ?? events,
    cluster: cluster?.view ?? null,
    logger,
  };
  /** Marks requests this node's relay executor sends to its own HTTP listener (never leaves the process). */
  const relayInternal = { token: randomBytes(24).toString('base64url') };
  const admin = { token: config.http.token, protectReads: config.http.protectReads };

  const metrics = await parts.start('metrics', () => startMetrics(config.metrics, { hub, clients, events, server, upper, forwarding, logger }, admin), (m) => m.close());

  // Forwarding registers its stream handlers and hub hooks before the listeners and the
  // links start, so nothing arrives unhandled; it is stopped again first of all (below).
  if (forwarding) await parts.start('forwarding', () => forwarding.start(), () => forwarding.stop());

  const rtmp = await parts.start(
    'RTMP',
    () =>
      startRtmpServer({
        hub,
        logger,
        host: config.rtmp.listen.host ?? '0.0.0.0',
        port: config.rtmp.listen.port,
        ...playback(config.rtmp),
        ...config.rtmp.limits,
        // A stream a connected lower node announced is its own: nobody without a key may take its path here.
        publishGate: createPublishGate({ config: config.rtmp.publish, reservedBy: (p) => reservedBy(forwarding, server, p), logger }),
      }),
    (r) => r.close(),
  );
  const flv = createFlvHandler({ hub, logger, ...playback(config.http) });
  const http = await parts.start(
    'HTTP',
    () =>
      startHttpServer({
        listen: config.http.listen,
        services,
        logger,
        routes: [...clientRoutes, ...streamRoutes],
        extensions: [flv, ...metrics.extensions, consoleFiles(logger)],
        admin,
        graphql: config.http.graphql,
        graphqlPlugins: metrics.graphqlPlugins,
        relay: createRelayRoute({
          policy: sc?.relayApi ?? null,
          admin,
          relay: services.relay,
          internal: relayInternal,
          observe: metrics.observeRelay,
          replicaSecret: config.cluster?.secret ?? null,
        }),
      }),
    async (h) => {
      flv.close();
      await h.close();
    },
  );

  if (lower) {
    const { authority } = lower;
    await parts.start('cascade authority', () => authority, (a) => a.close());
    await parts.start('cascade server', () => startCascadeServer(lower.server, config, logger), (s) => s.stop());
  }
  if (upper && cc) {
    const execute = createRelayExecutor({ policy: cc.relayApi, listener: () => http.address, internal: relayInternal, nodeName: config.name, logger });
    await parts.start('cascade client', () => startUpperLink(upper, execute), (u) => u.stop());
  }
  await parts.start('forwarding service', () => services.forwarding, (f) => f.close());
  cluster?.bindLocal({ forwarding: services.forwarding, streams });
  cluster?.advertise(http.address, server?.address ?? null, server?.fingerprint ?? null);
  // The first thing stopped: no pull or push is retried while the links close (stop is idempotent).
  if (forwarding) parts.stopFirst('forwarding', () => forwarding.stop());
  return { services, hub, transport, http, rtmp, server, metrics };
}

/** The cascade server role: the authority over the lower nodes' records and the QUIC server (not yet listening). */
async function buildCascadeServer(
  config: Config,
  sc: NonNullable<Config['cascadeServer']>,
  deps: { transport: Transport; clients: ClientService; events: EventBus<NodeEvents>; logger: Logger; cluster: ClusterNode | null },
): Promise<{ server: CascadeServer; authority: DatabaseCascadeAuthority }> {
  const { transport, clients, events, logger, cluster } = deps;
  const authority = new DatabaseCascadeAuthority(clients, sc.autoregister, logger);
  const server = new CascadeServer({
    transport,
    listen: { host: sc.listen.host ?? '0.0.0.0', port: sc.listen.port },
    tls: await serverIdentity(config),
    authority: cluster ? cluster.wrapAuthority(authority) : authority,
    logger,
    serverName: config.name,
    version: VERSION,
    limits: {
      admissionRatePerSec: sc.admission.ratePerSec,
      admissionBurst: sc.admission.burst,
      registration: { perAddress: sc.autoregisterLimit.perAddress, perWindow: sc.autoregisterLimit.perHour, ratePerSec: sc.autoregisterLimit.ratePerSec, burst: sc.autoregisterLimit.burst },
    },
  });
  // Status updates lost during a database outage are re-synced from the live links.
  authority.setLiveLinks(() => server.sessions());
  const kick = (id: number, why: 'deleted' | 'secret-changed'): void => {
    void server.kick(id, why === 'deleted' ? CloseCode.ClientDeleted : CloseCode.SecretChanged);
  };
  clients.setLinkKicker(cluster ? cluster.linkKicker(kick) : kick);
  cluster?.bindServer(server);
  server.on('rejected', (e) =>
    events.publish('authRejected', { remoteAddress: e.remoteAddress, name: e.name, code: e.code, reason: e.reason, at: new Date() }),
  );
  return { server, authority };
}

async function startCascadeServer(server: CascadeServer, config: Config, logger: Logger): Promise<CascadeServer> {
  const a = await server.start();
  logger.info(
    { address: `${a.host}:${a.port}`, fingerprint: server.fingerprint, autoregister: config.cascadeServer?.autoregister },
    'cascade server listening (QUIC)',
  );
  return server;
}

/** How long players of a stream pulled from above wait for it while the link moves to another upper node. */
const HOLD_ACROSS_FAILOVER_MS = 15_000;

/** Answers API calls relayed from above with `execute`, then connects to the upper node. */
function startUpperLink(upper: UpstreamSupervisor, execute: RelayExecutor): UpstreamSupervisor {
  upper.onStream(StreamKind.ApiRelay, relayResponder({ execute }));
  upper.start();
  return upper;
}

/** The cascade client role: the link to the upper node, or to the best of several (not yet connecting). */
async function buildUpperLink(
  config: Config,
  cc: NonNullable<Config['cascadeClient']>,
  deps: { transport: Transport; events: EventBus<NodeEvents>; logger: Logger },
): Promise<UpstreamSupervisor> {
  const nodeKey = await lowerNodeSecret(config, deps.logger);
  const knownServersFile = path.join(config.datadir, 'known-servers');
  const servers = [];
  for (const [i, s] of cc.servers.entries()) {
    const key = cc.servers.length > 1 ? `cascade-client.servers[${i}].cafile` : 'cascade-client.cafile';
    servers.push({
      server: s.server,
      priority: s.priority,
      secret: s.secret ?? nodeKey,
      verify: {
        ...(s.fingerprint ? { fingerprint: s.fingerprint } : {}),
        ...(s.caFile ? { caPem: await readConfigFile(s.caFile, key) } : {}),
        knownServersFile,
      },
    });
  }
  const upper = new UpstreamSupervisor({
    transport: deps.transport,
    servers,
    failbackMs: cc.failbackMs,
    probeIntervalMs: cc.probeIntervalMs,
    ...(cc.localAddress !== null ? { localAddress: cc.localAddress } : {}),
    name: config.name,
    version: VERSION,
    logger: deps.logger,
  });
  const publish = (): void => deps.events.publish('upstreamChanged', { ...upper.status(), ...upper.overview() });
  upper.on('stateChanged', publish);
  upper.on('switched', publish);
  upper.on('serversChanged', publish);
  return upper;
}

async function readConfigFile(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** The cascade server's TLS identity: the configured files, or one generated once in the datadir. */
async function serverIdentity(config: Config): Promise<TlsIdentity> {
  const sc = config.cascadeServer;
  if (sc?.certFile && sc.keyFile) {
    return {
      certPem: await readConfigFile(sc.certFile, 'cascade-server.quic.certfile'),
      keyPem: await readConfigFile(sc.keyFile, 'cascade-server.quic.keyfile'),
    };
  }
  return loadOrCreateIdentity(config.datadir);
}

/** The QUIC transport of this node's links: the default one unless `quic.*` tunes it. */
function linkTransport(config: Config, logger: Logger): Transport {
  const q = config.quic;
  // Once at start: which UDP socket the links use (warns when auto falls back; throws when native does not load).
  logger.info({ udp: resolveUdpImplementation(q.udp, LEAN_QUIC_DEFAULTS.udpAddonPath, logger) }, 'QUIC UDP socket');
  if (
    q.congestion === LEAN_QUIC_DEFAULTS.congestionControl &&
    q.maxUdpPayloadBytes === LEAN_QUIC_DEFAULTS.maxUdpPayloadBytes &&
    q.udp === LEAN_QUIC_DEFAULTS.udp &&
    q.retry === 'auto'
  ) {
    return defaultTransport;
  }
  logger.info({ congestion: q.congestion, maxUdpPayloadBytes: q.maxUdpPayloadBytes, udp: q.udp, retry: q.retry }, 'QUIC tuned by config');
  return createLeanQuicTransport({
    congestionControl: q.congestion,
    maxUdpPayloadBytes: q.maxUdpPayloadBytes,
    udp: q.udp,
    statelessRetry: q.retry === 'auto' ? 'auto' : q.retry === 'on',
  });
}

/** Player options of the media servers: a node whose event loop already lags 1 s cannot take one more player in real time. */
function playback(c: PlayerConfig): { mergeWriteMs: number; maxPlayers: number; maxEventLoopLagMs: number } {
  return { mergeWriteMs: c.mergeWriteMs, maxPlayers: c.maxPlayers, maxEventLoopLagMs: 1_000 };
}
