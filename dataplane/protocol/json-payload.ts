/**
 * Decoding of JSON frame payloads, shared by control, media and relay frames:
 * strict UTF-8, a JSON object, validated by the frame's zod schema. Every
 * failure is a {@link ProtocolError} MalformedFrame naming the frame.
 */
import type { z } from 'zod';
import { CloseCode } from './close-codes.js';
import { ProtocolError } from './protocol-error.js';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A MalformedFrame error: `protocol error: malformed frame (WHAT)`. */
export function malformedFrame(what: string): ProtocolError {
  return new ProtocolError(CloseCode.MalformedFrame, `protocol error: malformed frame (${what})`);
}

/** Parses `payload` as the JSON object frame `name` and validates it with `schema`. */
export function decodeJsonPayload<S extends z.ZodType>(name: string, payload: Uint8Array, schema: S): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(utf8Strict.decode(payload));
  } catch {
    throw malformedFrame(`${name}: not UTF-8 JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw malformedFrame(`${name}: not a JSON object`);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
    throw malformedFrame(`${name}: invalid ${where}`);
  }
  return parsed.data;
}
