/**
 * What the forwarding policies share, passed explicitly: the node (hub, registry,
 * name, logger) and its two cascade roles. Each policy keeps its own state.
 */
import type { StreamKindValue } from '../../protocol/index.js';
import type { LinkStream } from '../../transport/link.js';
import type { CascadeServer } from '../link/cascade-server.js';
import type { UpperLink } from '../link/upper-link.js';
import type { ForwardingHost } from './media-open.js';

/** The node and its roles, as every forwarding policy sees them. */
export interface ForwardingContext extends ForwardingHost {
  /** The server role (lower nodes below), or null. */
  server: CascadeServer | null;
  /** The link up (client role), or null. */
  upper: UpperLink | null;
}

/** The link up as a policy uses it: online or not, the upper node's name, a new stream. */
export interface UpperSide {
  online(): boolean;
  /** The upper node's name from its WELCOME ('upper' before the first). */
  name(): string;
  open(kind: StreamKindValue): Promise<LinkStream>;
}

/** The {@link UpperSide} of a client role. */
export function upperSide(link: UpperLink): UpperSide {
  return {
    online: () => link.status().state === 'online',
    name: () => link.status().serverName ?? 'upper',
    open: (kind) => link.openStream(kind),
  };
}
