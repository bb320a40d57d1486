import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { Link, LinkListener, LinkStream, TlsIdentity, Transport } from '../../transport/link.js';
import {
  CloseCode,
  closeReason,
  normalizeFingerprint,
  PROTOCOL_REVISION,
  StreamKind,
  type AnnounceMessage,
  type AnnounceUpdate,
  type HelloMessage,
  type StreamKindValue,
} from '../../protocol/index.js';
import { AdmissionBucket } from './admission.js';
import { AuthThrottle, DEFAULT_REGISTRATION_LIMITS, type RegistrationLimits, type RegistrationStats } from './auth-throttle.js';
import type { AuthenticateResult, CascadeAuthority } from './authority.js';
import { CascadeError } from '../errors.js';
import type { SessionEnd } from './link-session.js';
import { ServerSession, type ServerSessionLimits } from './server-session.js';
import type { CascadeStreamHandler } from '../stream-handler.js';
import { settleWithin } from './timing.js';
import { Emitter } from '../../events.js';

/** Limits and timers of a cascade server (ms unless named otherwise). */
export interface CascadeServerLimits extends ServerSessionLimits {
  /** Failed authentications per address per window before the address is throttled. */
  authFailureLimit: number;
  authFailureWindowMs: number;
  /** Transport idle timeout and keep-alive. */
  maxIdleTimeoutMs: number;
  keepAliveIntervalMs: number;
  /** Bound of stop(). */
  stopTimeoutMs: number;
  /** New links admitted per second in the long run (token bucket; PROTOCOL.md §6 Admission). */
  admissionRatePerSec: number;
  /** New links admitted at once after a quiet period. */
  admissionBurst: number;
  /** Bounds on records created by auto-registration (counted by the auth throttle). */
  registration: RegistrationLimits;
}

/** Defaults of {@link CascadeServerLimits}. */
export const DEFAULT_SERVER_LIMITS: Readonly<CascadeServerLimits> = Object.freeze({
  helloTimeoutMs: 5_000, // 5 s from connection to HELLO
  heartbeatIntervalMs: 1_000, // PING every second, both ways
  heartbeatTimeoutMs: 2_000, // silent this long (two missed PINGs) → offline
  maxStreamsPerLink: 256,
  closeTimeoutMs: 2_000,
  authFailureLimit: 10,
  authFailureWindowMs: 60_000,
  maxIdleTimeoutMs: 5_000,
  keepAliveIntervalMs: 1_000,
  stopTimeoutMs: 5_000,
  admissionRatePerSec: 100,
  admissionBurst: 200,
  registration: DEFAULT_REGISTRATION_LIMITS,
});

/** Options of {@link CascadeServer}. */
interface CascadeServerOptions {
  transport: Transport;
  listen: { host: string; port: number };
  tls: TlsIdentity;
  authority: CascadeAuthority;
  logger: Logger;
  /** This node's name, sent in WELCOME. */
  serverName: string;
  /** This program's version, sent in WELCOME. */
  version: string;
  limits?: Partial<CascadeServerLimits>;
  /** Optional protocol features this server supports (PROTOCOL.md §8). */
  features?: string[];
}

/** Live facts about one client's link. */
export interface CascadeSessionInfo {
  clientId: number;
  /** The record's name (from the authority). */
  name: string;
  remoteAddress: string;
  remotePort: number;
  /** The client program's version (from HELLO). */
  version: string;
  /** Random id of the client process (from HELLO), for logs. */
  instanceId: string | null;
  connectedSince: Date;
  lastSeen: Date;
  rttMs: number | null;
}

/** Events of a {@link CascadeServer}. */
export type CascadeServerEvents = {
  /** A client's link is up (also when it replaced an older link of the same record). */
  online: [info: CascadeSessionInfo & { replaced: boolean; registered: boolean }];
  /** A client has no live link any more. */
  offline: [info: { clientId: number; name: string; remoteAddress: string; code: number; reason: string; remote: boolean; lastSeen: Date }];
  /** A connection was refused (authentication, throttling, protocol revision). */
  rejected: [info: { remoteAddress: string; remotePort: number; name: string | null; code: number; reason: string }];
  /** A client announced streams. */
  announce: [info: { clientId: number; message: AnnounceMessage }];
};

/**
 * The upper node's side of the cascade link: accepts links, authenticates them with
 * the {@link CascadeAuthority}, keeps one live link per client record, runs the
 * heartbeat, and reports status changes as events. See PROTOCOL.md.
 */
export class CascadeServer extends Emitter<CascadeServerEvents> {
  /** "sha256:HEX" of the server certificate. */
  readonly fingerprint: string | null;
  private readonly opts: CascadeServerOptions;
  private readonly limits: CascadeServerLimits;
  private readonly logger: Logger;
  private readonly throttle: AuthThrottle;
  private readonly admission: AdmissionBucket;
  private lastBusyReport = 0;
  private readonly handlers = new Map<StreamKindValue, CascadeStreamHandler>();
  private readonly all = new Set<ServerSession>();
  private readonly live = new Map<number, ServerSession>();
  private readonly onlineSince = new WeakMap<ServerSession, Date>();
  private readonly authorityQueues = new Map<number, Promise<void>>();
  private listener: LinkListener | null = null;
  private startPromise: Promise<{ host: string; port: number }> | null = null;
  private stopPromise: Promise<void> | null = null;

  constructor(options: CascadeServerOptions) {
    const logger = options.logger.child({ component: 'cascade-server' });
    super(logger);
    this.opts = options;
    this.logger = logger;
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    if (this.limits.heartbeatTimeoutMs < this.limits.heartbeatIntervalMs) {
      throw new CascadeError('CASCADE_CONFIG', 'heartbeatTimeoutMs must be >= heartbeatIntervalMs');
    }
    this.throttle = new AuthThrottle({
      limit: this.limits.authFailureLimit,
      windowMs: this.limits.authFailureWindowMs,
      registration: this.limits.registration,
    });
    this.admission = new AdmissionBucket({ ratePerSec: this.limits.admissionRatePerSec, burst: this.limits.admissionBurst });
    let fp: string | null = null;
    try {
      fp = normalizeFingerprint(new X509Certificate(options.tls.certPem).fingerprint256);
    } catch {
      fp = null;
    }
    this.fingerprint = fp;
  }

  /** The bound address once started. */
  get address(): { host: string; port: number } | null {
    return this.listener?.address ?? null;
  }

  /** Start listening; resolves with the bound address. Idempotent. */
  start(): Promise<{ host: string; port: number }> {
    if (this.stopPromise) return Promise.reject(new CascadeError('CASCADE_STATE', 'cascade server was stopped'));
    this.startPromise ??= (async () => {
      const listener = await this.opts.transport.listen({
        host: this.opts.listen.host,
        port: this.opts.listen.port,
        tls: this.opts.tls,
        maxIdleTimeoutMs: this.limits.maxIdleTimeoutMs,
        keepAliveIntervalMs: this.limits.keepAliveIntervalMs,
        onConnection: (link) => this.onConnection(link),
        logger: this.logger,
      });
      this.listener = listener;
      if (this.stopPromise) await listener.close();
      this.logger.info(
        { listen: listener.address, fingerprint: this.fingerprint, transport: this.opts.transport.name },
        'cascade server listening',
      );
      return listener.address;
    })();
    return this.startPromise;
  }

  /** Close every link (ServerShutdown), stop listening, flush authority calls. Bounded; idempotent. */
  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      this.logger.info({ links: this.all.size }, 'cascade server stopping');
      if (this.startPromise) await this.startPromise.catch(() => undefined);
      const sessions = [...this.all];
      await settleWithin(
        Promise.all(sessions.map((s) => s.close(CloseCode.ServerShutdown))),
        this.limits.stopTimeoutMs,
        [],
      );
      if (this.listener) await settleWithin(this.listener.close(), this.limits.stopTimeoutMs, undefined);
      await settleWithin(Promise.all(sessions.map((s) => s.ended)), 1_000, []);
      await settleWithin(Promise.all([...this.authorityQueues.values()]), this.limits.stopTimeoutMs, []);
      this.logger.info('cascade server stopped');
    })();
    return this.stopPromise;
  }

  /**
   * Close a client's live link with a code and reason (e.g. CloseCode.ClientDeleted,
   * CloseCode.SecretChanged). Resolves true when there was one.
   */
  async kick(clientId: number, code: number = CloseCode.Kicked, reason: string = closeReason(code)): Promise<boolean> {
    if (!Number.isInteger(code) || code < 0 || code > 0xff) throw new RangeError(`close code must be an application code 0-255, got ${code}`);
    const s = this.live.get(clientId);
    if (!s) return false;
    s.logger.info({ code, reason }, 'closing client link on request');
    await s.close(code, reason);
    return true;
  }

  /** Links admitted and refused (Busy) by admission control since start. */
  get admissionStats(): { admitted: number; refused: number } {
    return this.admission.stats;
  }

  /** Effective bounds on auto-registration. */
  get registrationLimits(): Readonly<Required<RegistrationLimits>> {
    return this.throttle.registrationLimits;
  }

  /** Records created by auto-registration and refused by its bounds. */
  get registrationStats(): RegistrationStats {
    return this.throttle.registrationStats;
  }

  /** Live links, one per online client record. */
  sessions(): CascadeSessionInfo[] {
    return [...this.live.values()].map((s) => this.infoOf(s));
  }

  /** Live facts of one client, or null when offline. */
  session(clientId: number): CascadeSessionInfo | null {
    const s = this.live.get(clientId);
    return s ? this.infoOf(s) : null;
  }

  /** Handle streams of `kind` opened by clients. Returns an unregister function. */
  onStream(kind: StreamKindValue, handler: CascadeStreamHandler): () => void {
    if (kind === StreamKind.Control) throw new CascadeError('CASCADE_CONFIG', 'the control stream cannot be handled');
    this.handlers.set(kind, handler);
    return () => {
      if (this.handlers.get(kind) === handler) this.handlers.delete(kind);
    };
  }

  /** Open a stream of `kind` to an online client (e.g. an API relay request). */
  async openStream(clientId: number, kind: StreamKindValue): Promise<LinkStream> {
    const s = this.live.get(clientId);
    if (!s || s.isClosing) throw new CascadeError('CASCADE_CLIENT_OFFLINE', `cascade client ${clientId} is offline`);
    return s.openKindStream(kind);
  }

  /** Announce streams to an online client (ANNOUNCE frames). */
  async announce(clientId: number, update: AnnounceUpdate): Promise<void> {
    const s = this.live.get(clientId);
    if (!s || s.isClosing) throw new CascadeError('CASCADE_CLIENT_OFFLINE', `cascade client ${clientId} is offline`);
    await s.announce(update);
  }

  private infoOf(s: ServerSession): CascadeSessionInfo {
    return {
      clientId: s.clientId ?? 0,
      name: s.clientName ?? '',
      remoteAddress: s.link.remoteAddress,
      remotePort: s.link.remotePort,
      version: s.version,
      instanceId: s.instanceId,
      connectedSince: this.onlineSince.get(s) ?? s.connectedAt,
      lastSeen: s.lastSeen,
      rttMs: s.rttMs,
    };
  }

  private onConnection(link: Link): void {
    const peer = `${link.remoteAddress}:${link.remotePort}`;
    if (this.stopPromise) {
      void link.close(CloseCode.ServerShutdown, closeReason(CloseCode.ServerShutdown));
      return;
    }
    const verdict = this.throttle.check(link.remoteAddress);
    if (verdict.throttled) {
      const reason = closeReason(CloseCode.Throttled);
      if (verdict.first) {
        this.logger.warn(
          { remoteAddress: link.remoteAddress, retryAfterMs: verdict.retryAfterMs },
          'too many failed authentications from this address; refusing its connections for the rest of the window',
        );
        this.emit('rejected', { remoteAddress: link.remoteAddress, remotePort: link.remotePort, name: null, code: CloseCode.Throttled, reason });
      }
      link.onStream = (s) => s.reset(CloseCode.Throttled);
      void link.close(CloseCode.Throttled, reason);
      return;
    }
    if (!this.admission.take()) {
      const now = Date.now();
      if (now - this.lastBusyReport >= 5_000) {
        this.lastBusyReport = now;
        this.logger.warn(
          { refused: this.admission.takeRefusedSinceReport(), ratePerSec: this.limits.admissionRatePerSec, burst: this.limits.admissionBurst },
          'connection storm: new links over the admission rate refused (Busy); clients retry with backoff',
        );
      }
      link.onStream = (s) => s.reset(CloseCode.Busy);
      void link.close(CloseCode.Busy, closeReason(CloseCode.Busy));
      return;
    }
    const logger = this.logger.child({ peer });
    logger.debug('link accepted; waiting for HELLO');
    const session = new ServerSession(link, logger, this.limits, {
      hello: (s, hello) => void this.authenticate(s, hello),
      announce: (s, message) => this.emit('announce', { clientId: s.clientId ?? 0, message }),
      ended: (s, end) => this.sessionEnded(s, end),
    }, this.handlers);
    this.all.add(session);
  }

  private async authenticate(s: ServerSession, hello: HelloMessage): Promise<void> {
    const remoteAddress = s.link.remoteAddress;
    const remotePort = s.link.remotePort;
    const refuse = (code: number, reason: string, retryAfterMs?: number): Promise<void> => {
      this.emit('rejected', { remoteAddress, remotePort, name: hello.name, code, reason });
      return s.reject(code, reason, retryAfterMs);
    };
    if (hello.protocol !== PROTOCOL_REVISION) {
      const reason = `incompatible protocol revision: client speaks ${hello.protocol}, server ${PROTOCOL_REVISION}`;
      s.logger.warn({ remoteAddress, name: hello.name }, reason);
      await refuse(CloseCode.IncompatibleProtocol, reason);
      return;
    }
    let result: AuthenticateResult;
    try {
      result = await this.opts.authority.authenticate({
        secret: hello.secret,
        name: hello.name,
        version: hello.version,
        remoteAddress,
        remotePort,
        admitRegistration: () => {
          const v = this.throttle.admitRegistration(remoteAddress);
          if (!v.ok && v.first) {
            s.logger.warn(
              { remoteAddress, name: hello.name, scope: v.scope, limits: this.throttle.registrationLimits, retryAfterMs: v.retryAfterMs },
              v.scope === 'address'
                ? 'auto-registration limit of this address reached; refusing its new records for the rest of the window'
                : 'auto-registration limit reached; refusing new records for now',
            );
          }
          return v;
        },
      });
    } catch (err) {
      s.logger.error({ err }, 'authority failed to authenticate a client');
      await s.close(CloseCode.InternalError, 'internal error during authentication');
      return;
    }
    if (s.isClosing) return;
    if (!result.ok) {
      this.throttle.recordFailure(remoteAddress);
      const code = Number.isInteger(result.code) && result.code >= 0 && result.code < 0x100 ? result.code : CloseCode.AuthFailed;
      const reason = result.reason || closeReason(code);
      s.logger.warn({ remoteAddress, name: hello.name, version: hello.version, code, reason }, 'cascade client rejected');
      await refuse(code, reason, result.retryAfterMs);
      return;
    }
    if (this.stopPromise) {
      await s.close(CloseCode.ServerShutdown);
      return;
    }
    const { clientId } = result;
    if (!Number.isSafeInteger(clientId) || clientId < 0) {
      s.logger.error({ clientId }, 'authority returned an invalid client id');
      await s.close(CloseCode.InternalError, 'internal error during authentication');
      return;
    }
    const prev = this.live.get(clientId);
    const replaced = prev !== undefined && prev !== s;
    if (prev && replaced) {
      prev.replaced = true;
      prev.logger.info({ newPeer: `${remoteAddress}:${remotePort}` }, 'replacing this link by a newer one of the same client');
      void prev.close(CloseCode.Replaced);
    }
    this.live.set(clientId, s);
    const features = (hello.features ?? []).filter((f) => this.opts.features?.includes(f));
    s.accept(clientId, result.name.slice(0, 128), this.opts.serverName.slice(0, 128), this.opts.version.slice(0, 64), features.slice(0, 32));
    const since = new Date();
    this.onlineSince.set(s, since);
    s.logger.info(
      { clientId, name: result.name, version: hello.version, remoteAddress, registered: result.registered === true, replaced },
      'cascade client online',
    );
    this.emit('online', { ...this.infoOf(s), replaced, registered: result.registered === true });
    const info = { remoteAddress, remotePort, version: hello.version, connectedSince: since, replaced };
    this.enqueue(clientId, () => this.opts.authority.linkUp(clientId, info));
  }

  private sessionEnded(s: ServerSession, end: SessionEnd): void {
    this.all.delete(s);
    const id = s.clientId;
    if (id !== null && this.live.get(id) === s) {
      this.live.delete(id);
      s.logger.info({ code: end.code, reason: end.reason, remote: end.remote }, 'cascade client offline');
      const lastSeen = s.lastSeen;
      this.emit('offline', {
        clientId: id,
        name: s.clientName ?? '',
        remoteAddress: s.link.remoteAddress,
        code: end.code,
        reason: end.reason,
        remote: end.remote,
        lastSeen,
      });
      this.enqueue(id, () => this.opts.authority.linkDown(id, { code: end.code, reason: end.reason, remote: end.remote, lastSeen }));
    } else if (s.replaced) {
      s.logger.info({ code: end.code, reason: end.reason }, 'replaced link closed');
    } else {
      // A lower node with several upper nodes probes the ones it does not use: a handshake it closes before HELLO.
      const level = end.remote && end.code === CloseCode.ClientShutdown ? 'debug' : 'info';
      s.logger[level]({ code: end.code, reason: end.reason, remote: end.remote }, 'link closed before authentication');
    }
  }

  /** Run authority calls of one client in order. */
  private enqueue(clientId: number, call: () => Promise<void>): void {
    const prev = this.authorityQueues.get(clientId) ?? Promise.resolve();
    const next = prev.then(call).catch((err: unknown) => {
      this.logger.error({ err, clientId }, 'authority link status update failed');
    });
    this.authorityQueues.set(clientId, next);
    void next.then(() => {
      if (this.authorityQueues.get(clientId) === next) this.authorityQueues.delete(clientId);
    });
  }
}
