/**
 * Push up (PROTOCOL.md §10): a lower node forwards a stream of its hub to its upper
 * node on a MediaPush stream; the upper node publishes it in its hub with publisher
 * protocol "cascade" and remote = the lower node's name.
 */
import type { Logger } from 'pino';
import { LinkStreamResetError, type LinkStream } from '../../transport/link.js';
import { MediaRefuseCode, mediaRefuseName, ProtocolError, CloseCode } from '../../protocol/index.js';
import type { StreamHub } from '../../media/stream-hub.js';
import { MEDIA_HANDSHAKE_MS, serveOpenedMedia, type ForwardingHost, type OpenSpec } from './media-open.js';
import { MediaStreamIo, errorText } from './media-stream.js';
import type { CascadeStreamContext } from '../stream-handler.js';
import type { StreamRegistry } from './stream-origin.js';

/** How long the opener waits for ACCEPT/REFUSE, and the acceptor for OPEN. */
export { MEDIA_HANDSHAKE_MS };

/** How an outgoing push ended. */
interface PushOutcome {
  /** Set when the upper node refused the stream. */
  refused: { code: number; reason: string } | null;
  /** Why it stopped. */
  reason: string;
}

/**
 * Push `path` of the local hub to the peer over a new stream. Resolves when the push
 * ends (refused, unpublished, link down). Never rejects.
 */
export async function pushOut(
  host: ForwardingHost,
  open: () => Promise<LinkStream>,
  path: string,
  peerName: string,
  signal: AbortSignal | null,
): Promise<PushOutcome> {
  const log = host.logger.child({ streamPath: path, peer: peerName, direction: 'push' });
  const chain = [...host.registry.chainOf(path), host.nodeName];
  let io: MediaStreamIo;
  try {
    io = new MediaStreamIo(await open());
  } catch (err) {
    return { refused: null, reason: `cannot open a stream: ${errorText(err)}` };
  }
  const onAbort = (): void => io.reset(CloseCode.Normal);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await io.send({ type: 'open', path, chain });
    const answer = await io.nextWithin(MEDIA_HANDSHAKE_MS, 'ACCEPT/REFUSE');
    if (answer?.type === 'refuse') {
      log.warn({ code: answer.code, refuse: mediaRefuseName(answer.code), reason: answer.reason }, 'push refused by the upper node');
      io.reset(CloseCode.Normal);
      return { refused: { code: answer.code, reason: answer.reason }, reason: answer.reason };
    }
    if (answer?.type !== 'accept') {
      io.reset(CloseCode.UnexpectedFrame);
      return { refused: null, reason: answer ? `unexpected ${answer.type.toUpperCase()} frame` : 'stream ended before ACCEPT' };
    }
    const sub = host.hub.subscribe(path, { protocol: 'cascade', remote: peerName });
    if (!sub) {
      await io.finish('unpublished');
      return { refused: null, reason: 'unpublished' };
    }
    log.info({ chain }, 'stream forwarding started (push to upper node)');
    const removeOut = host.registry.addOutbound({ path, direction: 'PUSHED_OUT', peer: peerName, bytes: () => io.bytesOut });
    // The upper node may drop the stream (reset, FIN): stop sending then.
    void io.peerEnded().then(() => sub.close('upper node ended the stream'));
    try {
      const reason = await io.pumpFrom(sub);
      log.info({ reason, bytes: io.bytesOut }, 'stream forwarding stopped (push to upper node)');
      return { refused: null, reason };
    } finally {
      removeOut();
    }
  } catch (err) {
    io.reset(err instanceof ProtocolError ? err.code : CloseCode.Normal);
    if (err instanceof LinkStreamResetError && err.code === CloseCode.StreamKindUnsupported) {
      const reason = `${peerName} does not accept media pushes`;
      log.warn({ reason }, 'push refused by the upper node');
      return { refused: { code: MediaRefuseCode.Unavailable, reason }, reason };
    }
    const reason = errorText(err);
    log.info({ reason }, 'push ended');
    return { refused: null, reason };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The upper node's handler of MediaPush streams: refuse (invalid path, loop, busy)
 * or publish into the hub until the push ends.
 */
export async function acceptPush(host: ForwardingHost, stream: LinkStream, ctx: CascadeStreamContext): Promise<void> {
  await serveOpenedMedia(host, stream, ctx, PUSH_IN, async ({ io, path, chain, log, refuse }) => {
    const prev = host.registry.inboundOf(path);
    if (prev && prev.direction === 'PUSHED_IN' && prev.peer === ctx.peerName && prev.close) {
      // The same lower node pushes the path again (it reconnected before we noticed its old link was dead).
      log.info('replacing the older push of the same path from the same node');
      prev.close('replaced by a newer push from the same node');
    }
    const existing = host.hub.get(path);
    if (existing) {
      return await refuse(
        MediaRefuseCode.Busy,
        `stream ${path} is already published on ${host.nodeName} (by ${existing.publisher.protocol} ${existing.publisher.remote})`,
      );
    }
    const origin = host.registry.inbound({
      path,
      direction: 'PUSHED_IN',
      peer: ctx.peerName,
      fromUpper: false,
      chain,
      onDemand: false,
      close: (reason) => {
        publisher.close(reason);
        io.reset(CloseCode.Normal);
      },
    });
    const publisher = host.hub.publish(path, { protocol: 'cascade', remote: ctx.peerName }, origin);
    publisher.once('close', () => io.reset(CloseCode.Normal));
    try {
      await io.send({ type: 'accept', chain: [] });
      log.info({ chain }, 'stream forwarding started (pushed in from lower node)');
      const reason = await io.pumpInto(publisher);
      log.info({ reason, bytes: io.bytesIn }, 'stream forwarding stopped (pushed in from lower node)');
      publisher.close(`cascade push ended: ${reason}`);
    } catch (err) {
      log.info({ reason: errorText(err) }, 'stream forwarding stopped (pushed in from lower node)');
      publisher.close(`cascade push ended: ${errorText(err)}`);
      throw err;
    }
  });
}

const PUSH_IN: OpenSpec = {
  direction: 'push-in',
  refusedMsg: 'push from lower node refused',
  refusedLevel: 'warn',
  loopReason: (path, node, chain) => `loop: stream ${path} already passed through ${node} (chain ${chain.join(' → ')})`,
  badStreamMsg: 'bad media push stream; reset',
};
