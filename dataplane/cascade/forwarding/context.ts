/**
 * What the forwarding policies share, passed explicitly: the node (hub, registry,
 * name, logger) and its two cascade roles. Each policy keeps its own state.
 */
import type { StreamKindValue } from '../../protocol/index.js';
import type { LinkStream } from '../../transport/link.js';
import type { CascadeServer } from '../link/cascade-server.js';
import type { Upstream } from '../link/upstream-supervisor.js';
import type { ForwardingHost } from './media-open.js';
import type { PullResume } from './media-pull.js';

/** The node and its roles, as every forwarding policy sees them. */
export interface ForwardingContext extends ForwardingHost {
  /** The server role (lower nodes below), or null. */
  server: CascadeServer | null;
  /** The link up (client role), or null. */
  upper: Upstream | null;
  /** How long a stream pulled from above keeps its players when the link is lost (0: not at all), ms. */
  holdMs: number;
  /** Peers of this node (replicas of one clustered upper node), or null. */
  peers: PeerStreams | null;
}

/** A peer that has a stream now, and how to open a cascade stream to it. */
export interface StreamPeer {
  /** Its node name (the request chain holds node names). */
  name: string;
  /** A new stream to it (connecting first when needed). */
  open(kind: StreamKindValue): Promise<LinkStream>;
}

/**
 * Other nodes that stand beside this one as equals (the replicas of a clustered upper
 * node): a path no lower node announced is pulled from the peer that has it before
 * asking the upper node.
 */
export interface PeerStreams {
  /** A peer that has `path` now and is not named in `exclude`; null when none. */
  find(path: string, exclude: readonly string[]): StreamPeer | null;
}

/** The link up as a policy uses it: online or not, the upper node's name, a new stream. */
export interface UpperSide {
  online(): boolean;
  /** The upper node's name from its WELCOME ('upper' before the first). */
  name(): string;
  open(kind: StreamKindValue): Promise<LinkStream>;
  /** What a pull from above needs to survive a lost link, or undefined when it ends with the link. */
  resume: PullResume | undefined;
  /** Resolves true once the link is online (at once if it is), false after `timeoutMs`. */
  whenOnline(timeoutMs: number): Promise<boolean>;
}

/** The {@link UpperSide} of a client role; pulls from it are held `holdMs` across a lost link. */
export function upperSide(link: Upstream, holdMs: number): UpperSide {
  const side: UpperSide = {
    online: () => link.status().state === 'online',
    name: () => link.status().serverName ?? 'upper',
    open: (kind) => link.openStream(kind),
    whenOnline: (timeoutMs) =>
      link.status().state === 'online'
        ? Promise.resolve(true)
        : new Promise<boolean>((resolve) => {
            const done = (ok: boolean): void => {
              clearTimeout(timer);
              off();
              resolve(ok);
            };
            const off = link.on('stateChanged', (s) => {
              if (s.state === 'online') done(true);
            });
            const timer = setTimeout(() => done(false), timeoutMs);
            timer.unref();
          }),
    resume: undefined,
  };
  if (holdMs > 0) side.resume = { whenOnline: (ms) => side.whenOnline(ms), peerName: () => side.name(), holdMs };
  return side;
}
