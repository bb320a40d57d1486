/**
 * Assembles one node from its configuration: database, services, HTTP
 * (GraphQL + REST), and the data plane. `main.ts` is the only caller that
 * listens on real ports by default; tests build apps on port 0.
 */
import { createFlvHandler, startRtmpServer, StreamHub, type FlvHandler, type RtmpServer } from '../dataplane/media/index.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UpperLink, CascadeServer, Forwarding } from '../dataplane/cascade/index.js';
import { relayResponder } from '../dataplane/cascade/index.js';
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
import { openDatabase, type Database } from './db/database.js';
import { clientRoutes } from './http/rest-clients.js';
import { streamRoutes } from './http/rest-streams.js';
import { startHttpServer, type HttpServer } from './http/http-server.js';
import { createRelayExecutor } from './http/relay-executor.js';
import { createRelayRoute } from './http/relay-route.js';
import { RelayService } from './services/relay.service.js';
import { createLogger, type Logger } from './logger.js';
import { ClientService } from './services/client.service.js';
import { createPublishGate } from './services/publish-auth.js';
import { nodeSecurity } from './services/node-security.js';
import { EventBus } from './services/event-bus.js';
import type { NodeEvents } from './services/events.js';
import type { NodeRole, Services } from './services/index.js';
import { StreamService } from './services/stream.service.js';
import { VERSION } from './version.js';

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
  };
  /** The media hub (available after start()). */
  readonly hub: StreamHub;
  /** The QUIC transport of the cascade links (available after start()). */
  readonly transport: Transport;
  start(): Promise<void>;
  /** Stops everything, in reverse order; bounded and idempotent. */
  stop(): Promise<void>;
}

export interface BuildOptions {
  logger?: Logger;
}

export function buildApp(config: Config, opts: BuildOptions = {}): App {
  const logger = opts.logger ?? createLogger(config.log.level, config.name);
  let db: Database | null = null;
  let http: HttpServer | null = null;
  let services: Services | null = null;
  let hub: StreamHub | null = null;
  let transport: Transport | null = null;
  let rtmp: RtmpServer | null = null;
  let flv: FlvHandler | null = null;
  let cascadeServer: CascadeServer | null = null;
  let upperLink: UpperLink | null = null;
  let authority: DatabaseCascadeAuthority | null = null;
  let forwarding: Forwarding | null = null;
  let stopping: Promise<void> | null = null;
  /** Marks requests this node's relay executor sends to its own HTTP listener (never leaves the process). */
  const relayInternal = { token: randomBytes(24).toString('base64url') };

  const roles: NodeRole[] = ['MEDIA'];
  if (config.cascadeServer) roles.push('CASCADE_SERVER');
  if (config.cascadeClient) roles.push('CASCADE_CLIENT');

  const app: App = {
    config,
    logger,
    get services() {
      if (!services) throw new Error('app not started');
      return services;
    },
    get addresses() {
      if (!http || !rtmp) throw new Error('app not started');
      return { http: http.address, rtmp: rtmp.address, quic: cascadeServer?.address ?? null };
    },
    get hub() {
      if (!hub) throw new Error('app not started');
      return hub;
    },
    get transport() {
      if (!transport) throw new Error('app not started');
      return transport;
    },
    async start() {
      logger.info({ version: VERSION, roles, config: config.file ?? '(defaults)', datadir: config.datadir }, 'node starting');
      try {
        db = await openDatabase(config.database, logger);
        const events = new EventBus<NodeEvents>((err, topic) => logger.error({ err, topic }, 'event listener failed'));
        const clients = new ClientService(db, events);
        const n = await clients.markAllOffline();
        if (n > 0) logger.info({ count: n }, 'clients marked offline at start');
        transport = linkTransport(config, logger);
        hub = new StreamHub({ logger });
        const streams = new StreamService(hub, events);
        if (config.cascadeServer) {
          const sc = config.cascadeServer;
          authority = new DatabaseCascadeAuthority(clients, sc.autoregister, logger);
          cascadeServer = new CascadeServer({
            transport,
            listen: { host: sc.listen.host ?? '0.0.0.0', port: sc.listen.port },
            tls: await serverIdentity(config),
            authority,
            logger,
            serverName: config.name,
            version: VERSION,
            limits: { admissionRatePerSec: sc.admission.ratePerSec, admissionBurst: sc.admission.burst },
          });
          const server = cascadeServer;
          // Status updates lost during a database outage are re-synced from the live links.
          authority.setLiveLinks(() => server.sessions());
          clients.setLinkKicker((id, why) => {
            void server.kick(id, why === 'deleted' ? CloseCode.ClientDeleted : CloseCode.SecretChanged);
          });
          server.on('rejected', (e) =>
            events.publish('authRejected', { remoteAddress: e.remoteAddress, name: e.name, code: e.code, reason: e.reason, at: new Date() }),
          );
        }
        if (config.cascadeClient) {
          const cc = config.cascadeClient;
          upperLink = new UpperLink({
            transport,
            server: cc.server,
            ...(cc.localAddress !== null ? { localAddress: cc.localAddress } : {}),
            secret: cc.secret,
            name: config.name,
            version: VERSION,
            verify: {
              ...(cc.fingerprint ? { fingerprint: cc.fingerprint } : {}),
              ...(cc.caFile ? { caPem: await readConfigFile(cc.caFile, 'cascade-client.cafile') } : {}),
              knownServersFile: path.join(config.datadir, 'known-servers'),
            },
            logger,
          });
          upperLink.on('stateChanged', (s) => events.publish('upstreamChanged', s));
          upperLink.onStream(
            StreamKind.ApiRelay,
            relayResponder({
              execute: createRelayExecutor({
                policy: cc.relayApi,
                listener: () => {
                  if (!http) throw new Error('HTTP not listening yet');
                  return http.address;
                },
                internal: relayInternal,
                nodeName: config.name,
                logger,
              }),
            }),
          );
        }
        if (cascadeServer || upperLink) {
          forwarding = new Forwarding({
            hub,
            logger,
            nodeName: config.name,
            server: cascadeServer,
            client: upperLink,
            autopush: config.cascadeClient?.autopush ?? false,
            onDemandGraceMs: config.forwarding.onDemandGraceMs,
          });
          forwarding.start();
        }
        const fw = forwarding;
        const pullRules = new PullRuleService(db, config.cascadeClient?.pull ?? [], upperLink && fw ? (rules) => fw.setPullRules(rules) : null);
        await pullRules.load();
        services = {
          node: {
            name: config.name,
            version: VERSION,
            startedAt: new Date(),
            roles,
            fingerprint: cascadeServer?.fingerprint ?? null,
            security: nodeSecurity(config),
          },
          clients,
          streams,
          cascade: new CascadeService(cascadeServer, upperLink),
          forwarding: new ForwardingService(forwarding, hub, clients, cascadeServer, upperLink, pullRules, events, config.name),
          relay: new RelayService(clients, cascadeServer),
          events,
          logger,
        };
        rtmp = await startRtmpServer({
          hub,
          logger,
          host: config.rtmp.listen.host ?? '0.0.0.0',
          port: config.rtmp.listen.port,
          ...playback(config.rtmp),
          publishGate: createPublishGate({
            config: config.rtmp.publish,
            // A stream a connected lower node announced is its own: nobody without a key may take its path here.
            reservedBy: (p) => fw?.registry.whoAnnounced(p).find((n) => cascadeServer?.session(n.clientId))?.name ?? null,
            logger,
          }),
        });
        flv = createFlvHandler({ hub, logger, ...playback(config.http) });
        http = await startHttpServer({
          listen: config.http.listen,
          services,
          logger,
          routes: [...clientRoutes, ...streamRoutes],
          extensions: [flv],
          admin: { token: config.http.token, protectReads: config.http.protectReads },
          relay: createRelayRoute({
            policy: config.cascadeServer?.relayApi ?? null,
            admin: { token: config.http.token, protectReads: config.http.protectReads },
            relay: services.relay,
            internal: relayInternal,
          }),
        });
        if (cascadeServer) {
          const a = await cascadeServer.start();
          logger.info(
            { address: `${a.host}:${a.port}`, fingerprint: cascadeServer.fingerprint, autoregister: config.cascadeServer?.autoregister },
            'cascade server listening (QUIC)',
          );
        }
        upperLink?.start();
        logger.info('node started');
      } catch (err) {
        await app.stop();
        throw err;
      }
    },
    stop() {
      stopping ??= (async () => {
        forwarding?.stop();
        services?.forwarding.close();
        await upperLink?.stop().catch((err: unknown) => logger.warn({ err }, 'stopping cascade client'));
        await cascadeServer?.stop().catch((err: unknown) => logger.warn({ err }, 'stopping cascade server'));
        authority?.close();
        flv?.close();
        await http?.close().catch((err: unknown) => logger.warn({ err }, 'closing HTTP'));
        await rtmp?.close().catch((err: unknown) => logger.warn({ err }, 'closing RTMP'));
        services?.streams.close();
        hub?.close();
        await db?.close();
        logger.info('node stopped');
      })();
      return stopping;
    },
  };
  return app;
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
    q.udp === LEAN_QUIC_DEFAULTS.udp
  ) {
    return defaultTransport;
  }
  logger.info({ congestion: q.congestion, maxUdpPayloadBytes: q.maxUdpPayloadBytes, udp: q.udp }, 'QUIC tuned by config');
  return createLeanQuicTransport({
    congestionControl: q.congestion,
    maxUdpPayloadBytes: q.maxUdpPayloadBytes,
    udp: q.udp,
  });
}

/** Player options of the media servers: a node whose event loop already lags 1 s cannot take one more player in real time. */
function playback(c: PlayerConfig): { mergeWriteMs: number; maxPlayers: number; maxEventLoopLagMs: number } {
  return { mergeWriteMs: c.mergeWriteMs, maxPlayers: c.maxPlayers, maxEventLoopLagMs: 1_000 };
}
