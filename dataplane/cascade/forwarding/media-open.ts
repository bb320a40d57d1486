/**
 * The receiving side of a media stream's opening, shared by an accepted push
 * (MediaPush, push-in) and a served pull (MediaPull, pull-out): read OPEN within
 * the handshake time, refuse an invalid path, a loop or a closing node, then
 * hand over to the caller; any protocol error resets that one stream.
 */
import type { Logger } from 'pino';
import { CloseCode, MediaRefuseCode, mediaRefuseName, ProtocolError } from '../../protocol/index.js';
import { isValidStreamPath } from '../../media/stream-path.js';
import type { LinkStream } from '../../transport/link.js';
import type { StreamHub } from '../../media/stream-hub.js';
import { MediaStreamIo } from './media-stream.js';
import type { CascadeStreamContext } from '../stream-handler.js';
import type { StreamRegistry } from './stream-origin.js';

/** What push and pull need of the node. */
export interface ForwardingHost {
  hub: StreamHub;
  registry: StreamRegistry;
  /** This node's name (the chain entry). */
  nodeName: string;
  logger: Logger;
}

/** Time to wait for OPEN (and, for pulls, for the stream to appear), ms. */
export const MEDIA_HANDSHAKE_MS = 10_000;

/** An opened media stream, passed to the caller's body. */
interface OpenedMediaStream {
  io: MediaStreamIo;
  path: string;
  /** The OPEN's chain of node names. */
  chain: string[];
  log: Logger;
  /** Send REFUSE with a code and reason (logged), then end the stream. */
  refuse(code: number, reason: string): Promise<void>;
}

export interface OpenSpec {
  direction: 'push-in' | 'pull-out';
  /** Log message of a refusal, and its level. */
  refusedMsg: string;
  refusedLevel: 'warn' | 'info';
  /** Reason of a loop refusal. */
  loopReason(path: string, nodeName: string, chain: string[]): string;
  /** Log message of a protocol error on this stream. */
  badStreamMsg: string;
}

/** Runs the opening of a peer-opened media stream, then `body`; never throws. */
export async function serveOpenedMedia(
  host: ForwardingHost,
  stream: LinkStream,
  ctx: CascadeStreamContext,
  spec: OpenSpec,
  body: (s: OpenedMediaStream) => Promise<void>,
): Promise<void> {
  const io = new MediaStreamIo(stream);
  const onAbort = (): void => io.reset(CloseCode.Normal);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let log = ctx.logger;
  try {
    const open = await io.nextWithin(MEDIA_HANDSHAKE_MS, 'OPEN');
    if (open?.type !== 'open') throw new ProtocolError(CloseCode.UnexpectedFrame, 'protocol error: expected OPEN');
    const { path, chain } = open;
    const l = log.child({ streamPath: path, peer: ctx.peerName, direction: spec.direction });
    log = l;
    const refuse = async (code: number, reason: string): Promise<void> => {
      l[spec.refusedLevel]({ code, refuse: mediaRefuseName(code), reason, chain }, spec.refusedMsg);
      await io.send({ type: 'refuse', code, reason });
      await io.stream.end().catch(() => {});
    };
    if (!isValidStreamPath(path)) return await refuse(MediaRefuseCode.InvalidPath, `invalid stream path "${path}"`);
    if (chain.includes(host.nodeName)) return await refuse(MediaRefuseCode.Loop, spec.loopReason(path, host.nodeName, chain));
    if (host.hub.closed) return await refuse(MediaRefuseCode.Unavailable, `${host.nodeName} is shutting down`);
    await body({ io, path, chain, log: l, refuse });
  } catch (err) {
    io.reset(err instanceof ProtocolError ? err.code : CloseCode.Normal);
    if (err instanceof ProtocolError) log.warn({ reason: err.message }, spec.badStreamMsg);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}
