import type { Logger } from 'pino';
import type { LinkStream } from '../transport/link.js';
import type { StreamKindValue } from '../protocol/index.js';

/** What a stream handler knows about the link a stream arrived on. */
export interface CascadeStreamContext {
  kind: StreamKindValue;
  /** Client record id: the peer's on the server, our own on the client. */
  clientId: number;
  /** Name of the node at the other end. */
  peerName: string;
  remoteAddress: string;
  /** Child logger of the link. */
  logger: Logger;
  /** Aborted when the link ends. */
  signal: AbortSignal;
}

/**
 * Handles one stream of a kind (media push/pull, API relay) opened by the peer. The
 * stream's kind byte has been consumed. A throw or rejection is logged and the stream
 * is reset with InternalError.
 */
export type CascadeStreamHandler = (stream: LinkStream, ctx: CascadeStreamContext) => void | Promise<void>;
