import type { Logger } from 'pino';
import type { Link, LinkStream } from '../../transport/link.js';
import {
  CloseCode,
  PROTOCOL_REVISION,
  StreamKind,
  type AnnounceMessage,
  type ControlMessage,
  type HelloMessage,
  type StreamKindValue,
} from '../../protocol/index.js';
import { LinkSession, type SessionEnd } from './link-session.js';
import type { CascadeStreamHandler } from '../stream-handler.js';

/** Server-side limits and timers (all in ms). */
export interface ServerSessionLimits {
  helloTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  maxStreamsPerLink: number;
  closeTimeoutMs: number;
}

/** What a server session asks of its server. */
interface ServerSessionHooks {
  /** A valid HELLO arrived: authenticate, then call accept() or close(). */
  hello(session: ServerSession, hello: HelloMessage): void;
  announce(session: ServerSession, msg: AnnounceMessage): void;
  ended(session: ServerSession, end: SessionEnd): void;
}

type State = 'awaiting-hello' | 'authenticating' | 'online';

/** One link as seen by the cascade server (PROTOCOL.md §5). */
export class ServerSession extends LinkSession {
  private state: State = 'awaiting-hello';
  private helloTimer: NodeJS.Timeout | null;
  /** Set by accept(). */
  clientId: number | null = null;
  clientName: string | null = null;
  helloName: string | null = null;
  version = '';
  instanceId: string | null = null;
  /** Set when the server closed this link because a newer one took over. */
  replaced = false;

  constructor(
    link: Link,
    logger: Logger,
    private readonly limits: ServerSessionLimits,
    private readonly hooks: ServerSessionHooks,
    private readonly handlers: ReadonlyMap<StreamKindValue, CascadeStreamHandler>,
  ) {
    super(link, logger, { maxPeerStreams: limits.maxStreamsPerLink, closeTimeoutMs: limits.closeTimeoutMs });
    this.helloTimer = setTimeout(() => {
      this.helloTimer = null;
      if (this.state !== 'awaiting-hello' || this.isClosing) return;
      this.logger.warn({ timeoutMs: limits.helloTimeoutMs }, 'no HELLO in time; closing link');
      void this.close(CloseCode.HelloTimeout, `hello timeout: no HELLO within ${limits.helloTimeoutMs} ms`);
    }, limits.helloTimeoutMs);
    this.helloTimer.unref();
  }

  protected get isOnline(): boolean {
    return this.state === 'online';
  }

  /** Accept the HELLO: send WELCOME and start the heartbeat. */
  accept(clientId: number, clientName: string, serverName: string, serverVersion: string, features: string[]): void {
    if (this.isClosing) return;
    this.state = 'online';
    this.clientId = clientId;
    this.clientName = clientName;
    this.logger = this.logger.child({ clientId });
    void this.sendControl({
      type: 'welcome',
      protocol: PROTOCOL_REVISION,
      clientId,
      clientName,
      serverName,
      serverVersion,
      heartbeatIntervalMs: this.limits.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.limits.heartbeatTimeoutMs,
      features,
    });
    this.startHeartbeat(this.limits.heartbeatIntervalMs, this.limits.heartbeatTimeoutMs);
  }

  /** Refuse the HELLO: REJECT frame, then close with the same code and reason. */
  reject(code: number, reason: string, retryAfterMs?: number): Promise<void> {
    const r = reason.slice(0, 512);
    return this.close(code, r, { type: 'reject', code: code & 0xff, reason: r, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }

  protected onControlMessage(msg: ControlMessage): void {
    if (msg.type === 'hello' && this.state === 'awaiting-hello') {
      if (this.helloTimer) clearTimeout(this.helloTimer);
      this.helloTimer = null;
      this.state = 'authenticating';
      this.helloName = msg.name;
      this.version = msg.version;
      this.instanceId = msg.instanceId ?? null;
      this.logger = this.logger.child({ instanceId: msg.instanceId ?? null });
      this.hooks.hello(this, msg);
      return;
    }
    if (msg.type === 'announce' && this.state === 'online') {
      this.hooks.announce(this, msg);
      return;
    }
    this.unexpected(msg);
  }

  protected onPeerStream(kind: StreamKindValue, stream: LinkStream): void {
    if (kind === StreamKind.Control) {
      if (this.control) {
        void this.close(CloseCode.UnexpectedStream, 'protocol error: unexpected stream (second control stream)');
        return;
      }
      this.runControl(stream);
      return;
    }
    if (this.state !== 'online') {
      this.logger.warn('stream opened before authentication; closing link');
      void this.close(CloseCode.StreamBeforeAuth);
      return;
    }
    this.dispatch(kind, stream, this.handlers, {
      clientId: this.clientId ?? 0,
      peerName: this.clientName ?? '',
      remoteAddress: this.link.remoteAddress,
    });
  }

  protected onEnded(end: SessionEnd): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.hooks.ended(this, end);
  }
}
