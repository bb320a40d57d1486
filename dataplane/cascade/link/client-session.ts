import type { Logger } from 'pino';
import type { Link, LinkStream } from '../../transport/link.js';
import {
  CloseCode,
  encodeControlMessage,
  StreamKind,
  type AnnounceMessage,
  type ControlMessage,
  type HelloMessage,
  type StreamKindValue,
  type WelcomeMessage,
} from '../../protocol/index.js';
import { LinkSession, type SessionEnd } from './link-session.js';
import type { CascadeStreamHandler } from '../stream-handler.js';

/** One link as seen by the cascade client (PROTOCOL.md §5). */
export class ClientSession extends LinkSession {
  private welcome: WelcomeMessage | null = null;
  /** Resolves on WELCOME; rejects with the SessionEnd if the link ends first. */
  readonly welcomed: Promise<WelcomeMessage>;
  /** REJECT's retryAfterMs, if one came. */
  retryAfterMs: number | undefined;
  private resolveWelcome!: (w: WelcomeMessage) => void;
  private rejectWelcome!: (e: SessionEnd) => void;

  constructor(
    link: Link,
    logger: Logger,
    options: { maxPeerStreams: number; closeTimeoutMs: number },
    private readonly onAnnounce: (msg: AnnounceMessage) => void,
    private readonly handlers: ReadonlyMap<StreamKindValue, CascadeStreamHandler>,
  ) {
    super(link, logger, options);
    this.welcomed = new Promise<WelcomeMessage>((resolve, reject) => {
      this.resolveWelcome = resolve;
      this.rejectWelcome = reject;
    });
    this.welcomed.catch(() => undefined);
  }

  protected get isOnline(): boolean {
    return this.welcome !== null;
  }

  /** The WELCOME, once received. */
  get welcomeMessage(): WelcomeMessage | null {
    return this.welcome;
  }

  /** Open the control stream and send HELLO (kind byte and frame in one write). */
  async begin(hello: HelloMessage): Promise<void> {
    const stream = await this.link.openStream();
    const frame = encodeControlMessage(hello);
    const first = new Uint8Array(1 + frame.byteLength);
    first[0] = StreamKind.Control;
    first.set(frame, 1);
    await stream.write(first);
    this.runControl(stream);
  }

  protected onControlMessage(msg: ControlMessage): void {
    if (msg.type === 'welcome' && !this.welcome) {
      this.welcome = msg;
      this.logger = this.logger.child({ clientId: msg.clientId });
      this.startHeartbeat(msg.heartbeatIntervalMs, msg.heartbeatTimeoutMs);
      this.resolveWelcome(msg);
      return;
    }
    if (msg.type === 'reject' && !this.welcome) {
      this.retryAfterMs = msg.retryAfterMs;
      this.setRemoteEnd(msg.code, msg.reason);
      void this.close(msg.code, msg.reason, null);
      return;
    }
    if (msg.type === 'announce' && this.welcome) {
      this.onAnnounce(msg);
      return;
    }
    this.unexpected(msg);
  }

  protected onPeerStream(kind: StreamKindValue, stream: LinkStream): void {
    if (kind === StreamKind.Control) {
      void this.close(CloseCode.UnexpectedStream, 'protocol error: unexpected stream (control stream opened by the server)');
      return;
    }
    // A server stream may overtake the WELCOME frame: dispatch once welcomed.
    this.welcomed.then(
      (w) => this.dispatch(kind, stream, this.handlers, { clientId: w.clientId, peerName: w.serverName, remoteAddress: this.link.remoteAddress }),
      () => stream.reset(CloseCode.Normal),
    );
  }

  protected onEnded(end: SessionEnd): void {
    this.rejectWelcome(end);
  }
}
