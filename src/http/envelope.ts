/**
 * The REST envelope of the spec: `{"code":0,"message":"success","data":...}`;
 * errors carry a non-zero code, a human message and the matching HTTP status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { databaseUnavailable, isDatabaseUnavailable } from '../db/unavailable.js';
import { AppError, expectedError } from '../errors.js';
import type { Logger } from '../logger.js';

interface Envelope<T> {
  code: number;
  message: string;
  data: T;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    // A body we refused is not read: close the connection rather than drain it.
    ...(status === 411 || status === 413 ? { connection: 'close' } : {}),
  });
  res.end(text);
}

export function sendOk<T>(res: ServerResponse, data: T, status = 200): void {
  sendJson(res, status, { code: 0, message: 'success', data } satisfies Envelope<T>);
}

/** Sends an error envelope; unexpected errors are logged in full and masked. */
export function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  const expected = expectedError(err);
  if (expected) {
    sendJson(res, expected.status, { code: expected.envelopeCode, message: expected.message, data: null });
    return;
  }
  if (isDatabaseUnavailable(err)) {
    log.warn({ err: (err as Error).message }, 'database unavailable');
    sendError(res, databaseUnavailable(), log);
    return;
  }
  log.error({ err }, 'unexpected error in REST handler');
  sendJson(res, 500, { code: 500, message: 'internal error', data: null });
}

/** Reads a JSON request body of at most `limit` bytes. */
export async function readJsonBody(req: IncomingMessage, limit = 1024 * 1024): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.pause();
    throw new AppError('PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.pause();
      throw new AppError('PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new AppError('BAD_JSON', 'request body is empty (expected JSON)');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // JSON.parse's message quotes the input (it may hold a secret): keep the position only.
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new AppError('BAD_JSON', `request body is not valid JSON${at === undefined ? '' : ` (at position ${at})`}`);
  }
}
