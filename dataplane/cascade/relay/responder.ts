/**
 * The lower node's end of an ApiRelay stream (PROTOCOL.md §11): read the relayed
 * request, let an executor run it against this node's own HTTP API, and stream the
 * answer back.
 */
import { CloseCode, ProtocolError } from '../../protocol/index.js';
import {
  decodeRequestHead,
  encodeBodyFrames,
  encodeRelayEnd,
  encodeRelayError,
  encodeResponseHead,
  RelayFrameType,
  unexpected,
  type RelayRequestHead,
  type RelayResponseHead,
} from '../../protocol/relay-frames.js';
import type { LinkStream } from '../../transport/link.js';
import { relayFrameReader } from './frame-reader.js';
import type { CascadeStreamContext, CascadeStreamHandler } from '../stream-handler.js';

/** An executor's answer: a response to stream back, or a refusal (sent as RELAY_ERROR). */
export type RelayAnswer =
  | { kind: 'response'; head: RelayResponseHead; body: AsyncIterable<Uint8Array> }
  | { kind: 'refused'; status: number; message: string };

/**
 * Runs one relayed request. `body` yields the request body and ends at REQUEST_END
 * (it throws when the stream breaks first). `signal` aborts when the upper node gives
 * up (stream reset) or the link ends; the executor must then release everything.
 */
export type RelayExecutor = (
  head: RelayRequestHead,
  body: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
  ctx: CascadeStreamContext,
) => Promise<RelayAnswer>;

/** Options of {@link relayResponder}. */
export interface RelayResponderOptions {
  execute: RelayExecutor;
  /** REQUEST_HEAD must arrive this long after the stream opened (default 10 s). */
  headTimeoutMs?: number;
}

/** The stream handler to register with `client.onStream(StreamKind.ApiRelay, …)`. */
export function relayResponder(opts: RelayResponderOptions): CascadeStreamHandler {
  const headTimeoutMs = opts.headTimeoutMs ?? 10_000; // 10 s
  return (stream, ctx) => serveRelayStream(stream, ctx, opts.execute, headTimeoutMs);
}

async function serveRelayStream(stream: LinkStream, ctx: CascadeStreamContext, execute: RelayExecutor, headTimeoutMs: number): Promise<void> {
  const reader = relayFrameReader(stream);
  const abort = new AbortController();
  const onLinkEnd = (): void => abort.abort();
  ctx.signal.addEventListener('abort', onLinkEnd, { once: true });
  try {
    let timer: NodeJS.Timeout | undefined;
    let head: RelayRequestHead;
    try {
      const first = await Promise.race([
        reader.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no REQUEST_HEAD in time')), headTimeoutMs);
        }),
      ]);
      if (first === null) return;
      head = decodeRequestHead(first);
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : CloseCode.Normal;
      ctx.logger.warn({ reason: err instanceof Error ? err.message : String(err) }, 'bad relayed request; resetting stream');
      stream.reset(code);
      return;
    } finally {
      clearTimeout(timer);
    }

    // The request body; once it has ended, keep reading to notice a reset by the upper node.
    let bodyDone = false;
    const watch = (): void => {
      reader.next().then(
        (f) => {
          if (f !== null) {
            ctx.logger.warn({ type: f.type }, 'relay frame after REQUEST_END; resetting stream');
            stream.reset(CloseCode.UnexpectedFrame);
            abort.abort();
          }
        },
        () => abort.abort(),
      );
    };
    async function* body(): AsyncGenerator<Uint8Array> {
      for (;;) {
        const f = await reader.next().catch((err: unknown) => {
          abort.abort();
          throw err;
        });
        if (f === null) throw new Error('relay stream ended inside the request body');
        if (f.type === RelayFrameType.RequestBody) {
          if (f.payload.byteLength > 0) yield f.payload;
          continue;
        }
        if (f.type === RelayFrameType.RequestEnd) {
          bodyDone = true;
          watch();
          return;
        }
        const e = unexpected(f.type, 'REQUEST_BODY or REQUEST_END');
        stream.reset(e.code);
        abort.abort();
        throw e;
      }
    }

    const answer = await execute(head, body(), abort.signal, ctx);
    if (answer.kind === 'refused') {
      await stream.write(encodeRelayError({ status: answer.status, message: answer.message }));
      await stream.end();
      return;
    }
    await stream.write(encodeResponseHead(answer.head));
    try {
      for await (const chunk of answer.body) {
        for (const f of encodeBodyFrames(RelayFrameType.ResponseBody, chunk)) await stream.write(f);
      }
    } catch (err) {
      if (!abort.signal.aborted) ctx.logger.warn({ err }, 'relayed response failed while streaming');
      stream.reset(CloseCode.InternalError);
      abort.abort();
      return;
    }
    await stream.write(encodeRelayEnd(RelayFrameType.ResponseEnd));
    await stream.end();
    // Answered before the whole request body came: stop the local request; the upper node resets the stream.
    if (!bodyDone) abort.abort();
  } catch (err) {
    abort.abort();
    stream.reset(CloseCode.InternalError);
    ctx.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'relay stream ended early');
  } finally {
    ctx.signal.removeEventListener('abort', onLinkEnd);
  }
}
