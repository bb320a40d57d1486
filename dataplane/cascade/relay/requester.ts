/**
 * The upper node's end of an ApiRelay stream (PROTOCOL.md §11): send one HTTP request
 * down an already opened stream and get the lower node's answer back, its body as it
 * is produced.
 */
import { CodedError } from '../../errors.js';
import { CloseCode, ProtocolError } from '../../protocol/index.js';
import {
  decodeRelayError,
  decodeResponseHead,
  encodeBodyFrames,
  encodeRelayEnd,
  encodeRequestHead,
  RelayFrameType,
  unexpected,
  type RelayRequestHead,
  type RelayResponseHead,
} from '../../protocol/relay-frames.js';
import { LinkClosedError, LinkStreamResetError, type LinkStream } from '../../transport/link.js';
import { relayFrameReader, type RelayFrameReader } from './frame-reader.js';

/** A relay that failed on this side or the link; its code is the HTTP status to answer. */
export class RelayError extends CodedError<number> {
  /** The HTTP status to answer (the code). */
  get status(): number {
    return this.code;
  }
}

/** One request to relay. */
export interface RelayRequest {
  head: RelayRequestHead;
  /** The request body in pieces, or null for none. May throw (e.g. an RelayError 413 past a limit). */
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | null;
  /** The lower node must answer (RESPONSE_HEAD or RELAY_ERROR) within this time, else 504. */
  timeoutMs: number;
  /** Aborting (e.g. the caller went away) resets the stream. */
  signal?: AbortSignal;
}

/** What the lower node answered. */
export type RelayOutcome =
  | {
      kind: 'response';
      head: RelayResponseHead;
      /** The response body as it arrives; throws RelayError (502) when the stream breaks before RESPONSE_END. */
      body: AsyncIterable<Uint8Array>;
    }
  | { kind: 'refused'; status: number; message: string };

function failure(err: unknown, stream: LinkStream): RelayError {
  if (err instanceof RelayError) return err;
  if (err instanceof LinkClosedError) return new RelayError(503, 'the lower node went offline during the relayed request');
  if (err instanceof LinkStreamResetError) {
    if (err.code === CloseCode.StreamKindUnsupported) return new RelayError(403, 'API relay is not enabled on the lower node');
    return new RelayError(502, `the lower node aborted the relayed request (code ${err.code})`);
  }
  if (err instanceof ProtocolError) {
    stream.reset(err.code);
    return new RelayError(502, `bad answer from the lower node: ${err.message}`);
  }
  stream.reset(CloseCode.InternalError);
  return new RelayError(502, 'the relay link failed');
}

/**
 * Relay one request over `stream` (an ApiRelay stream, kind byte already written).
 * Resolves once the lower node answered; rejects with {@link RelayError} (504 on
 * timeout, 502 on a broken stream, 403 when the peer has no relay handler, or the
 * body's own error). The stream is reset on every failure and on `signal`.
 */
export async function relayRequest(stream: LinkStream, req: RelayRequest): Promise<RelayOutcome> {
  const reader = relayFrameReader(stream);
  let finished = false;
  const onAbort = (): void => {
    if (!finished) stream.reset(CloseCode.Normal);
  };
  req.signal?.addEventListener('abort', onAbort, { once: true });
  const done = (): void => {
    finished = true;
    req.signal?.removeEventListener('abort', onAbort);
  };

  let pumpDone = false;
  let pumpFailed: (err: unknown) => void = () => undefined;
  const pumpFailure = new Promise<never>((_, reject) => {
    pumpFailed = reject;
  });
  pumpFailure.catch(() => undefined);
  const pump = async (): Promise<void> => {
    await stream.write(encodeRequestHead(req.head));
    if (req.body) {
      for await (const chunk of req.body) {
        for (const f of encodeBodyFrames(RelayFrameType.RequestBody, chunk)) await stream.write(f);
      }
    }
    await stream.write(encodeRelayEnd(RelayFrameType.RequestEnd));
    await stream.end();
  };
  pump().then(
    () => {
      pumpDone = true;
    },
    (err: unknown) => {
      pumpDone = true;
      // A write failing because the lower node answered early and closed is not a failure of the relay.
      if (err instanceof RelayError || !(err instanceof LinkStreamResetError)) stream.reset(CloseCode.Normal);
      pumpFailed(err);
    },
  );

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RelayError(504, `the lower node did not answer within ${req.timeoutMs} ms`)), req.timeoutMs);
  });
  let first;
  try {
    first = await Promise.race([reader.next(), timeout, pumpFailure]);
  } catch (err) {
    done();
    const e = failure(err, stream);
    stream.reset(CloseCode.Normal);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  if (first === null) {
    done();
    throw new RelayError(502, 'the lower node closed the relay stream without an answer');
  }
  try {
    if (first.type === RelayFrameType.RelayError) {
      const e = decodeRelayError(first);
      done();
      if (!pumpDone) stream.reset(CloseCode.Normal);
      else reader.next().catch(() => undefined); // take the FIN that follows
      return { kind: 'refused', status: e.status, message: e.message };
    }
    const head = decodeResponseHead(first);
    return { kind: 'response', head, body: responseBody(stream, reader, () => pumpDone, done) };
  } catch (err) {
    done();
    throw failure(err, stream);
  }
}

async function* responseBody(
  stream: LinkStream,
  reader: RelayFrameReader,
  pumpDone: () => boolean,
  done: () => void,
): AsyncGenerator<Uint8Array> {
  let complete = false;
  try {
    for (;;) {
      let f;
      try {
        f = await reader.next();
      } catch (err) {
        throw failure(err, stream);
      }
      if (f === null) throw new RelayError(502, 'the relayed response was cut off');
      if (f.type === RelayFrameType.ResponseBody) {
        if (f.payload.byteLength > 0) yield f.payload;
        continue;
      }
      if (f.type === RelayFrameType.ResponseEnd) {
        complete = true;
        reader.next().catch(() => undefined); // take the FIN that follows
        return;
      }
      throw failure(unexpected(f.type, 'RESPONSE_BODY or RESPONSE_END'), stream);
    }
  } finally {
    done();
    // Stopped early (caller gone) or finished while the request body was still going: release the stream.
    if (!complete || !pumpDone()) stream.reset(CloseCode.Normal);
  }
}
