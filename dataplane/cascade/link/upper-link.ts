import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Link, LinkStream, Transport } from '../../transport/link.js';
import {
  CloseCode,
  closeCodeInfo,
  closeReason,
  normalizeFingerprint,
  PROTOCOL_REVISION,
  StreamKind,
  TransportCloseCode,
  type AnnounceMessage,
  type AnnounceUpdate,
  type StreamKindValue,
} from '../../protocol/index.js';
import { backoffDelay } from './backoff.js';
import { ClientSession } from './client-session.js';
import { CascadeError } from '../errors.js';
import { serverKey } from './known-servers.js';
import { closeInfoOfError, ServerVerifier, type CascadeServerVerification } from './server-verifier.js';
import type { SessionEnd } from './link-session.js';
import type { CascadeStreamHandler } from '../stream-handler.js';
import { settleWithin, Sleeper } from './timing.js';
import { Emitter } from '../../events.js';

/** State of a cascade client's link to its server. */
export type UpperLinkState = 'stopped' | 'connecting' | 'online' | 'backoff' | 'rejected';

/** Timers of a cascade client (ms). */
export interface UpperLinkTiming {
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Fraction of the delay taken off at random (0..1). */
  backoffJitter: number;
  /** Delay after a rejection (auth, verification, replaced, kicked). */
  rejectedRetryMs: number;
  connectTimeoutMs: number;
  /** WELCOME/REJECT must arrive this long after HELLO. */
  welcomeTimeoutMs: number;
  maxIdleTimeoutMs: number;
  keepAliveIntervalMs: number;
  closeTimeoutMs: number;
  /** Bound of stop(). */
  stopTimeoutMs: number;
  maxStreamsPerLink: number;
}

/** Defaults of {@link UpperLinkTiming}. */
export const DEFAULT_CLIENT_TIMING: Readonly<UpperLinkTiming> = Object.freeze({
  backoffInitialMs: 500, // 0.5 s, doubling
  backoffMaxMs: 30_000, // up to 30 s
  backoffJitter: 0.2,
  rejectedRetryMs: 30_000, // rejected: retry every 30 s, never faster
  connectTimeoutMs: 5_000,
  welcomeTimeoutMs: 10_000,
  maxIdleTimeoutMs: 5_000,
  keepAliveIntervalMs: 1_000,
  closeTimeoutMs: 2_000,
  stopTimeoutMs: 5_000,
  maxStreamsPerLink: 256,
});

/** Options of {@link UpperLink}. */
export interface UpperLinkOptions {
  transport: Transport;
  server: { host: string; port: number };
  /** Local IP address to connect from; the transport's default (any) otherwise. */
  localAddress?: string;
  /** The client's secret; absent or null: none (autoregister). Never logged. */
  secret?: string | null;
  /** This node's name, sent in HELLO. */
  name: string;
  /** This program's version, sent in HELLO. */
  version: string;
  verify: CascadeServerVerification;
  logger: Logger;
  timing?: Partial<UpperLinkTiming>;
  /** TLS server name (SNI) to ask for; the transport's default otherwise. */
  tlsServerName?: string;
  /** Optional protocol features (PROTOCOL.md §8). */
  features?: string[];
  /** Random source for the backoff jitter (tests). */
  random?: () => number;
}

/** The client's view of its link, as shown in GraphQL `upstream`. */
export interface UpperLinkStatus {
  /** "host:port" of the server. */
  server: string;
  state: UpperLinkState;
  /** When the current state began. */
  since: Date;
  rttMs: number | null;
  /** Why the last link or attempt ended (plain text from the server or the client). */
  lastError: string | null;
  /** Close code of the last error, if any. */
  lastErrorCode: number | null;
  /** Our client record id at the server (from the last WELCOME). */
  clientId: number | null;
  clientName: string | null;
  serverName: string | null;
  serverVersion: string | null;
  /** "sha256:HEX" of the server certificate last seen. */
  serverFingerprint: string | null;
  /** How the server is verified: pinned fingerprint, CA (certificate valid for the dialled host), or trust on first use. */
  trust: 'pin' | 'ca' | 'tofu';
  /** When the next attempt is due (states backoff and rejected). */
  nextAttemptAt: Date | null;
}

/** Events of a {@link UpperLink}. */
export type UpperLinkEvents = {
  stateChanged: [status: UpperLinkStatus];
  /** The server announced streams. */
  announce: [message: AnnounceMessage];
};

interface AttemptOutcome {
  online: boolean;
  code: number;
  reason: string;
  retryAfterMs?: number;
}

/**
 * The lower node's side of the cascade link: connects, verifies the server, sends
 * HELLO, keeps the link up with heartbeats, and reconnects with backoff after any
 * drop. See PROTOCOL.md §5.
 */
export class UpperLink extends Emitter<UpperLinkEvents> {
  private readonly opts: UpperLinkOptions;
  private readonly timing: UpperLinkTiming;
  private readonly logger: Logger;
  private readonly key: string;
  private readonly verifier: ServerVerifier;
  private readonly handlers = new Map<StreamKindValue, CascadeStreamHandler>();
  private readonly sleeper = new Sleeper();
  private readonly instanceId = randomUUID();
  private state: UpperLinkState = 'stopped';
  private since = new Date();
  private lastError: string | null = null;
  private lastErrorCode: number | null = null;
  private nextAttemptAt: Date | null = null;
  private serverFingerprint: string | null = null;
  private welcome: { clientId: number; clientName: string; serverName: string; serverVersion: string } | null = null;
  private session: ClientSession | null = null;
  private pendingLink: Link | null = null;
  private runPromise: Promise<void> | null = null;
  private stopPromise: Promise<void> | null = null;
  private stopping = false;

  constructor(options: UpperLinkOptions) {
    const key = serverKey(options.server.host, options.server.port);
    const logger = options.logger.child({ component: 'cascade-client', peer: key });
    super(logger);
    this.opts = options;
    this.logger = logger;
    this.key = key;
    this.timing = { ...DEFAULT_CLIENT_TIMING, ...options.timing };
    if (options.name.length < 1 || options.name.length > 128) {
      throw new CascadeError('CASCADE_CONFIG', 'cascade client name must be 1-128 characters');
    }
    if (options.version.length > 64) throw new CascadeError('CASCADE_CONFIG', 'cascade client version must be at most 64 characters');
    if (options.secret && options.secret.length > 1024) throw new CascadeError('CASCADE_CONFIG', 'cascade-client.secret must be at most 1024 characters');
    if ((options.features?.length ?? 0) > 32 || options.features?.some((f) => f.length > 64)) {
      throw new CascadeError('CASCADE_CONFIG', 'at most 32 features of at most 64 characters');
    }
    this.verifier = new ServerVerifier(key, options.verify);
  }

  /** Current status (rttMs is live). */
  status(): UpperLinkStatus {
    return {
      server: this.key,
      state: this.state,
      since: this.since,
      rttMs: this.state === 'online' ? (this.session?.rttMs ?? null) : null,
      lastError: this.lastError,
      lastErrorCode: this.lastErrorCode,
      clientId: this.welcome?.clientId ?? null,
      clientName: this.welcome?.clientName ?? null,
      serverName: this.welcome?.serverName ?? null,
      serverVersion: this.welcome?.serverVersion ?? null,
      serverFingerprint: this.serverFingerprint,
      trust: this.verifier.mode,
      nextAttemptAt: this.nextAttemptAt,
    };
  }

  /** Start keeping the link up. Idempotent. */
  start(): void {
    if (this.stopping) throw new CascadeError('CASCADE_STATE', 'cascade client was stopped');
    this.runPromise ??= this.run().catch((err: unknown) => {
      this.logger.error({ err }, 'cascade client loop failed');
      this.setState('stopped');
    });
  }

  /** Close the link (ClientShutdown) and stop reconnecting. Bounded; idempotent. */
  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      this.sleeper.cancel();
      const s = this.session;
      if (s) await s.close(CloseCode.ClientShutdown);
      const l = this.pendingLink;
      if (l) await settleWithin(l.close(CloseCode.ClientShutdown, closeReason(CloseCode.ClientShutdown)), this.timing.closeTimeoutMs, undefined);
      if (this.runPromise) await settleWithin(this.runPromise, this.timing.stopTimeoutMs, undefined);
      this.setState('stopped');
      this.logger.info('cascade client stopped');
    })();
    return this.stopPromise;
  }

  /** Handle streams of `kind` opened by the server (e.g. API relay). Returns an unregister function. */
  onStream(kind: StreamKindValue, handler: CascadeStreamHandler): () => void {
    if (kind === StreamKind.Control) throw new CascadeError('CASCADE_CONFIG', 'the control stream cannot be handled');
    this.handlers.set(kind, handler);
    return () => {
      if (this.handlers.get(kind) === handler) this.handlers.delete(kind);
    };
  }

  /** Open a stream of `kind` to the server (e.g. a media push). Requires state online. */
  async openStream(kind: StreamKindValue): Promise<LinkStream> {
    const s = this.session;
    if (!s || this.state !== 'online' || s.isClosing) throw new CascadeError('CASCADE_NOT_ONLINE', `cascade link to ${this.key} is not online`);
    return s.openKindStream(kind);
  }

  /** Announce streams to the server (ANNOUNCE frames). Requires state online. */
  async announce(update: AnnounceUpdate): Promise<void> {
    const s = this.session;
    if (!s || this.state !== 'online' || s.isClosing) throw new CascadeError('CASCADE_NOT_ONLINE', `cascade link to ${this.key} is not online`);
    await s.announce(update);
  }

  private setState(state: UpperLinkState, patch: { error?: { code: number; reason: string } | null; nextAttemptAt?: Date | null } = {}): void {
    if (patch.error !== undefined) {
      this.lastError = patch.error?.reason ?? null;
      this.lastErrorCode = patch.error?.code ?? null;
    }
    if (patch.nextAttemptAt !== undefined) this.nextAttemptAt = patch.nextAttemptAt;
    if (state === this.state && patch.error === undefined) return;
    this.state = state;
    this.since = new Date();
    this.emit('stateChanged', this.status());
  }

  private async run(): Promise<void> {
    let failures = 0;
    let attempt = 0;
    while (!this.stopping) {
      attempt++;
      this.setState('connecting', { nextAttemptAt: null });
      const outcome = await this.attempt(attempt);
      if (this.stopping) break;
      if (outcome.online) failures = 0;
      const policy = closeCodeInfo(outcome.code).retry;
      let delay: number;
      let state: UpperLinkState;
      if (policy === 'slow') {
        state = 'rejected';
        delay = Math.max(this.timing.rejectedRetryMs, outcome.retryAfterMs ?? 0);
      } else {
        failures++;
        state = 'backoff';
        delay = backoffDelay(
          failures,
          { initialMs: this.timing.backoffInitialMs, maxMs: this.timing.backoffMaxMs, jitter: this.timing.backoffJitter },
          this.opts.random,
        );
      }
      this.logger.warn(
        { code: outcome.code, reason: outcome.reason, wasOnline: outcome.online, retryInMs: delay, state },
        state === 'rejected' ? 'cascade link refused; retrying slowly' : 'cascade link down; reconnecting',
      );
      this.setState(state, { error: { code: outcome.code, reason: outcome.reason }, nextAttemptAt: new Date(Date.now() + delay) });
      await this.sleeper.sleep(delay);
    }
  }

  private async attempt(attempt: number): Promise<AttemptOutcome> {
    const t = this.timing;
    const { host, port } = this.opts.server;
    this.logger.info({ attempt }, 'connecting to cascade server');
    let link: Link;
    try {
      link = await this.opts.transport.connect({
        host,
        port,
        ...(this.opts.tlsServerName !== undefined ? { serverName: this.opts.tlsServerName } : {}),
        ...(this.opts.localAddress !== undefined ? { localAddress: this.opts.localAddress } : {}),
        ...this.verifier.connectOptions(host),
        maxIdleTimeoutMs: t.maxIdleTimeoutMs,
        keepAliveIntervalMs: t.keepAliveIntervalMs,
        connectTimeoutMs: t.connectTimeoutMs,
      });
    } catch (err) {
      const info = closeInfoOfError(err);
      if (info) {
        const { code } = info;
        if (code === TransportCloseCode.FingerprintMismatch) {
          return { online: false, code, reason: this.verifier.pinMismatchReason() };
        }
        return { online: false, code, reason: `connect failed: ${info.reason || closeReason(code)}` };
      }
      return { online: false, code: TransportCloseCode.TransportError, reason: `connect failed: ${(err as Error).message}` };
    }
    this.pendingLink = link;
    try {
      if (this.stopping) {
        await settleWithin(link.close(CloseCode.ClientShutdown, closeReason(CloseCode.ClientShutdown)), t.closeTimeoutMs, undefined);
        return { online: false, code: CloseCode.ClientShutdown, reason: closeReason(CloseCode.ClientShutdown) };
      }
      const seen = link.peerFingerprint ? normalizeFingerprint(link.peerFingerprint) : null;
      this.serverFingerprint = seen;
      const refusal = await this.verifier.verify(link, seen, this.logger);
      if (refusal) {
        await settleWithin(link.close(CloseCode.ServerVerificationFailed, closeReason(CloseCode.ServerVerificationFailed)), t.closeTimeoutMs, undefined);
        return { online: false, code: CloseCode.ServerVerificationFailed, reason: refusal };
      }
      if (this.stopping) {
        await settleWithin(link.close(CloseCode.ClientShutdown, closeReason(CloseCode.ClientShutdown)), t.closeTimeoutMs, undefined);
        return { online: false, code: CloseCode.ClientShutdown, reason: closeReason(CloseCode.ClientShutdown) };
      }
      return await this.runSession(link);
    } finally {
      this.pendingLink = null;
    }
  }

  private async runSession(link: Link): Promise<AttemptOutcome> {
    const t = this.timing;
    const session = new ClientSession(
      link,
      this.logger.child({ instanceId: this.instanceId }),
      { maxPeerStreams: t.maxStreamsPerLink, closeTimeoutMs: t.closeTimeoutMs },
      (msg) => this.emit('announce', msg),
      this.handlers,
    );
    this.session = session;
    try {
      await session.begin({
        type: 'hello',
        protocol: PROTOCOL_REVISION,
        name: this.opts.name,
        version: this.opts.version,
        secret: this.opts.secret ? this.opts.secret : null, // "" means no secret
        instanceId: this.instanceId,
        features: this.opts.features ?? [],
      });
    } catch (err) {
      this.logger.debug({ err }, 'could not send HELLO');
      void session.close(CloseCode.InternalError, 'could not open the control stream');
    }
    const timer = setTimeout(() => {
      void session.close(CloseCode.HelloTimeout, `hello timeout: no WELCOME within ${t.welcomeTimeoutMs} ms`);
    }, t.welcomeTimeoutMs);
    let online = false;
    try {
      const w = await session.welcomed;
      clearTimeout(timer);
      online = true;
      this.welcome = { clientId: w.clientId, clientName: w.clientName, serverName: w.serverName, serverVersion: w.serverVersion };
      session.logger.info(
        { clientId: w.clientId, serverName: w.serverName, serverVersion: w.serverVersion, fingerprint: this.serverFingerprint },
        'cascade link online',
      );
      if (!this.stopping) this.setState('online');
    } catch {
      clearTimeout(timer);
    }
    const end: SessionEnd = await session.ended;
    if (this.session === session) this.session = null;
    return {
      online,
      code: end.code,
      reason: end.reason,
      ...(session.retryAfterMs !== undefined ? { retryAfterMs: session.retryAfterMs } : {}),
    };
  }
}
