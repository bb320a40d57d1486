/**
 * Bounds of GraphQL subscriptions over WebSocket (graphql-ws) against idle and
 * piled-up connections: connections per source address (refused at the
 * upgrade with 429), a connection that never sends `connection_init` (closed by
 * graphql-ws after `initTimeoutMs`, 4408), and a connection that holds no
 * subscription for `idleMs` (closed with 4400 and a reason). Each refusal or
 * close is logged, refusals once per address while it holds its connections.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context } from 'graphql-ws';
import type { WebSocket } from 'ws';
import { AddressSlots, addressKey } from '../../dataplane/media/address-slots.js';
import type { Logger } from '../logger.js';

/** Limits of graphql-ws connections. */
export interface WsLimits {
  /** Most connections from one source address (IPv6: one /64); 0: no bound. */
  perAddress: number;
  /** Close a connection that has not sent `connection_init` after this many ms. */
  initTimeoutMs: number;
  /** Close an initialised connection that has had no subscription for this many ms; 0: never. */
  idleMs: number;
}

/** Defaults: a console or GraphiQL tab holds one connection; an idle one costs a socket and a context. */
export const DEFAULT_WS_LIMITS: WsLimits = {
  perAddress: 32,
  initTimeoutMs: 3_000, // 3 seconds (graphql-ws's own default)
  idleMs: 60_000, // 1 minute
};

/** graphql-ws close code for a connection closed by the idle bound (4400: "bad request" range of graphql-ws). */
const WS_IDLE_CLOSE_CODE = 4400;

type WsContext = Context<Record<string, unknown> | undefined, { socket: WebSocket; request: IncomingMessage }>;

/** Admission and idle sweep of one graphql-ws server. */
export class GraphQLWsGuard {
  private readonly slots: AddressSlots;
  private readonly refused = new Set<string>();
  private readonly idle = new Map<WsContext, number>();
  private readonly sweep: NodeJS.Timeout | null;

  constructor(
    private readonly limits: WsLimits,
    private readonly log: Logger,
  ) {
    this.slots = new AddressSlots(limits.perAddress);
    this.sweep =
      limits.idleMs > 0 ? setInterval(() => this.closeIdle(), Math.max(100, Math.min(5_000, limits.idleMs / 4))) : null;
    this.sweep?.unref();
  }

  /** Takes a slot for the upgrade's address, or answers 429 and returns false. */
  admit(req: IncomingMessage, socket: Duplex): boolean {
    const remote = req.socket.remoteAddress;
    const key = this.slots.take(remote);
    if (key === null) {
      const k = addressKey(remote);
      if (!this.refused.has(k)) {
        this.refused.add(k);
        this.log.warn({ remote, max: this.limits.perAddress }, 'graphql-ws connection refused: too many connections from this address');
      }
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return false;
    }
    socket.once('close', () => {
      this.slots.release(key);
      if (this.slots.count(key) === 0) this.refused.delete(key);
    });
    return true;
  }

  onConnect(ctx: WsContext): void {
    this.idle.set(ctx, Date.now());
  }

  onClose(ctx: WsContext): void {
    this.idle.delete(ctx);
  }

  close(): void {
    if (this.sweep !== null) clearInterval(this.sweep);
    this.idle.clear();
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [ctx, since] of this.idle) {
      if (Object.keys(ctx.subscriptions).length > 0) {
        this.idle.set(ctx, now);
      } else if (now - since >= this.limits.idleMs) {
        this.idle.delete(ctx);
        this.log.info({ remote: ctx.extra.request.socket.remoteAddress, idleMs: this.limits.idleMs }, 'graphql-ws connection closed: no subscription');
        ctx.extra.socket.close(WS_IDLE_CLOSE_CODE, `no subscription for ${this.limits.idleMs} ms`);
      }
    }
  }
}
