/**
 * Pull (PROTOCOL.md §10): a node asks a peer for a stream on a MediaPull stream; the
 * peer answers ACCEPT and sends the tags (from its GOP cache start), or REFUSE. Used
 * for pull rules and on-demand pulls, downwards (client asks its upper node) and
 * upwards (an upper node asks the lower node that announced a stream).
 */
import { LinkStreamResetError, type LinkStream } from '../../transport/link.js';
import { CloseCode, MediaRefuseCode, mediaRefuseName, ProtocolError } from '../../protocol/index.js';
import { MEDIA_HANDSHAKE_MS, serveOpenedMedia, type OpenSpec } from './media-open.js';
import type { ForwardingHost } from './media-open.js';
import { MediaStreamIo, errorText } from './media-stream.js';
import { SourceSplice } from './source-splice.js';
import type { MediaTag } from '../../media/media-tag.js';
import type { CascadeStreamContext } from '../stream-handler.js';

/** Options of one pull. */
interface PullOptions {
  open: () => Promise<LinkStream>;
  /** Path asked of the peer. */
  remotePath: string;
  /** Path published locally. */
  localPath: string;
  peerName: string;
  /** Nodes the request passed through so far (ours is appended). */
  requestChain: string[];
  fromUpper: boolean;
  onDemand: boolean;
  /**
   * Keep the local stream and its players when the link under the pull is lost: wait
   * up to `holdMs` for a link (`whenOnline`, maybe to another upper node), pull again
   * with `open` and go on from the new source's next keyframe.
   */
  resume?: PullResume | undefined;
}

/** How a pull from above survives a lost link (see {@link PullOptions}). */
export interface PullResume {
  whenOnline: (timeoutMs: number) => Promise<boolean>;
  peerName: () => string;
  holdMs: number;
}

/** A running pull. */
export interface PullHandle {
  /** Resolves true once the stream is published locally, false when refused or failed. */
  readonly accepted: Promise<boolean>;
  /** Resolves with why the pull ended (never rejects). */
  readonly done: Promise<string>;
  /** The REFUSE received, if any. */
  refusal(): { code: number; reason: string } | null;
  /** Stop pulling: the local copy is unpublished. Idempotent. */
  cancel(reason: string): void;
}

/** How long a held pull waits between two attempts at the new source, ms. */
const RESUME_RETRY_MS = 250;

/** Start pulling a stream from a peer into the local hub. */
export function pullIn(host: ForwardingHost, o: PullOptions): PullHandle {
  const log = host.logger.child({ streamPath: o.localPath, remotePath: o.remotePath, peer: o.peerName, direction: 'pull' });
  let refusal: { code: number; reason: string } | null = null;
  let io: MediaStreamIo | null = null;
  let cancelled: string | null = null;
  let wakeCancel: () => void = () => undefined;
  const cancelledSignal = new Promise<void>((r) => (wakeCancel = r));
  let acceptedResolve!: (ok: boolean) => void;
  const accepted = new Promise<boolean>((r) => (acceptedResolve = r));

  /** OPEN on a new stream; the ACCEPT's chain, or null when refused (then `refusal` says why) or cancelled. */
  const handshake = async (): Promise<MediaStreamIo | null> => {
    const cur = new MediaStreamIo(await o.open());
    io = cur;
    if (cancelled !== null) {
      cur.reset(CloseCode.Normal);
      return null;
    }
    await cur.send({ type: 'open', path: o.remotePath, chain: [...o.requestChain, host.nodeName] });
    // The peer may itself have to fetch the stream first: allow it a little longer.
    const answer = await cur.nextWithin(MEDIA_HANDSHAKE_MS + 2_000, 'ACCEPT/REFUSE');
    if (answer?.type === 'refuse') {
      refusal = { code: answer.code, reason: answer.reason };
      log.info({ code: answer.code, refuse: mediaRefuseName(answer.code), reason: answer.reason }, 'pull refused');
      cur.reset(CloseCode.Normal);
      return null;
    }
    if (answer?.type !== 'accept') throw new ProtocolError(CloseCode.UnexpectedFrame, 'protocol error: expected ACCEPT or REFUSE');
    if (answer.chain.includes(host.nodeName)) {
      refusal = { code: MediaRefuseCode.Loop, reason: `loop: stream ${o.remotePath} already passed through ${host.nodeName}` };
      log.warn({ chain: answer.chain }, refusal.reason);
      cur.reset(CloseCode.Normal);
      return null;
    }
    if (cancelled !== null) {
      cur.reset(CloseCode.Normal);
      return null;
    }
    chain = answer.chain;
    return cur;
  };
  let chain: string[] = [];

  /** After the source was lost: the stream of a new source, or null when none came within `holdMs`. */
  const reopen = async (r: PullResume): Promise<MediaStreamIo | null> => {
    const deadline = performance.now() + r.holdMs;
    while (cancelled === null) {
      const left = deadline - performance.now();
      if (left <= 0) return null;
      const online = await Promise.race([r.whenOnline(left), cancelledSignal.then(() => false)]);
      if (!online || cancelled !== null) return null;
      refusal = null;
      const cur = await handshake().catch((err: unknown) => {
        log.debug({ err: errorText(err) }, 'pull: new source not ready');
        return null;
      });
      if (cur) return cur;
      await Promise.race([new Promise((res) => setTimeout(res, RESUME_RETRY_MS)), cancelledSignal]);
    }
    return null;
  };

  const done = (async (): Promise<string> => {
    try {
      let cur = await handshake();
      if (cur === null) return cancelled ?? (refusal as { reason: string } | null)?.reason ?? 'pull refused';
      if (host.hub.has(o.localPath)) {
        refusal = { code: MediaRefuseCode.Busy, reason: `stream ${o.localPath} is already published on ${host.nodeName}` };
        cur.reset(CloseCode.Normal);
        return refusal.reason;
      }
      const inbound = host.registry.inbound({ path: o.localPath, direction: 'PULLED_IN', peer: o.peerName, fromUpper: o.fromUpper, chain, onDemand: o.onDemand });
      const publisher = host.hub.publish(o.localPath, { protocol: 'cascade', remote: o.peerName }, inbound);
      publisher.once('close', () => io?.reset(CloseCode.Normal));
      acceptedResolve(true);
      log.info({ chain, onDemand: o.onDemand }, 'stream forwarding started (pulled in)');
      const splice = new SourceSplice();
      const sink = {
        write: (tag: MediaTag): boolean => {
          const t = splice.map(tag, performance.now());
          return t === null ? !publisher.closed : publisher.write(t);
        },
      };
      let bytes = 0;
      for (;;) {
        let reason: string;
        let lost = false;
        try {
          reason = await cur.pumpInto(o.resume ? sink : publisher);
        } catch (err) {
          reason = cancelled ?? errorText(err);
          lost = cancelled === null && !publisher.closed;
        }
        bytes += cur.bytesIn;
        if (!lost || !o.resume) {
          publisher.close(`cascade pull ended: ${reason}`);
          log.info({ reason, bytes }, 'stream forwarding stopped (pulled in)');
          return reason;
        }
        const lostAt = performance.now();
        log.warn({ reason, holdMs: o.resume.holdMs, players: host.hub.get(o.localPath)?.subscribers ?? 0 }, 'pull source lost: holding the stream and its players for a new source');
        const next = await reopen(o.resume);
        if (next === null) {
          const why = cancelled ?? `source lost (${reason}) and no new source within ${o.resume.holdMs} ms`;
          publisher.close(`cascade pull ended: ${why}`);
          log.info({ reason: why, bytes }, 'stream forwarding stopped (pulled in)');
          return why;
        }
        cur = next;
        splice.resume();
        inbound.peer = o.resume.peerName();
        inbound.chain = chain;
        log.info({ peer: o.resume.peerName(), chain, tookMs: Math.round(performance.now() - lostAt) }, 'pull resumed from a new source; players go on at its next keyframe');
      }
    } catch (err) {
      const reason = cancelled ?? errorText(err);
      if (err instanceof LinkStreamResetError && err.code === CloseCode.StreamKindUnsupported) {
        refusal = { code: MediaRefuseCode.Unavailable, reason: `${o.peerName} does not serve media pulls` };
      } else if (err instanceof LinkStreamResetError && err.code === CloseCode.TooManyStreams) {
        refusal = { code: MediaRefuseCode.Unavailable, reason: `${o.peerName} has too many streams open on this link` };
      }
      (io as MediaStreamIo | null)?.reset(err instanceof ProtocolError ? err.code : CloseCode.Normal);
      log.debug({ reason }, 'pull failed');
      return reason;
    } finally {
      acceptedResolve(false);
    }
  })();
  return {
    accepted,
    done,
    refusal: () => refusal,
    cancel(reason: string) {
      if (cancelled !== null) return;
      cancelled = reason;
      wakeCancel();
      io?.reset(CloseCode.Normal);
    },
  };
}

/**
 * Serving a MediaPull stream: answer with the stream from the local hub, asking
 * `obtain` first when it is not live here (it may fetch it from the upper node or a
 * lower node, excluding the nodes already in the request chain).
 */
export async function servePull(
  host: ForwardingHost,
  stream: LinkStream,
  ctx: CascadeStreamContext,
  obtain: (path: string, chain: string[]) => Promise<boolean>,
): Promise<void> {
  await serveOpenedMedia(host, stream, ctx, PULL_OUT, async ({ io, path, chain, log, refuse }) => {
    if (!host.hub.has(path)) {
      const coming = await obtain(path, chain).catch(() => false);
      if (!coming || !(await host.hub.waitForPublish(path, MEDIA_HANDSHAKE_MS))) {
        return await refuse(MediaRefuseCode.NotFound, `stream ${path} is not live on ${host.nodeName} nor below it`);
      }
    }
    const streamChain = host.registry.chainOf(path);
    if (streamChain.includes(ctx.peerName)) {
      return await refuse(MediaRefuseCode.Loop, `loop: stream ${path} came from ${ctx.peerName} (chain ${streamChain.join(' → ')})`);
    }
    const sub = host.hub.subscribe(path, { protocol: 'cascade', remote: ctx.peerName });
    if (!sub) return await refuse(MediaRefuseCode.NotFound, `stream ${path} ended`);
    await io.send({ type: 'accept', chain: [...streamChain, host.nodeName] });
    log.info('stream forwarding started (pulled out by peer)');
    const removeOut = host.registry.addOutbound({ path, direction: 'PULLED_OUT', peer: ctx.peerName, bytes: () => io.bytesOut });
    void io.peerEnded().then(() => sub.close('peer stopped pulling'));
    try {
      const reason = await io.pumpFrom(sub);
      log.info({ reason, bytes: io.bytesOut }, 'stream forwarding stopped (pulled out by peer)');
    } finally {
      removeOut();
    }
  });
}

const PULL_OUT: OpenSpec = {
  direction: 'pull-out',
  refusedMsg: 'pull request refused',
  refusedLevel: 'info',
  loopReason: (path, node, chain) => `loop: the request for ${path} already passed through ${node} (chain ${chain.join(' → ')})`,
  badStreamMsg: 'bad media pull stream; reset',
};
