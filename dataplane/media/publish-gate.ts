/**
 * The question an RTMP session asks before it publishes into the hub, and the answer.
 * The node decides (keys, an HTTP hook, paths reserved for lower nodes); the session
 * only asks, and refuses with the answer's status code and closes.
 */

/** One publish attempt as the encoder sent it. */
export interface PublishRequest {
  /** "app/name", without the query. */
  path: string;
  /** Query parameters of the connect app / tcUrl and of the publish name, joined with "&" (may hold a key). */
  query: string;
  /** The publisher's IP address. */
  ip: string;
  protocol: 'rtmp';
}

/** Allowed, or refused with the NetStream status code to send and a reason safe to log and show. */
export type PublishVerdict =
  | { allow: true }
  | { allow: false; status: 'NetStream.Publish.Unauthorized' | 'NetStream.Publish.BadName'; reason: string };

/** Decides whether a publish may go on. Must settle in bounded time; must never reject. */
export type PublishGate = (req: PublishRequest) => Promise<PublishVerdict>;

/** Query parameters whose values are credentials. */
const SECRET_PARAMS = /^(key|token|secret|pass|password|passwd|auth|sign|signature|txsecret)$/i;

/** `query` with the values of credential parameters (key, token, secret, …) replaced by "…": what may be logged or shown. */
export function redactedQuery(query: string): string {
  if (query === '') return query;
  return query
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      let plain = name;
      try {
        plain = decodeURIComponent(name);
      } catch {
        // keep it as sent
      }
      return eq >= 0 && SECRET_PARAMS.test(plain) ? `${name}=…` : part;
    })
    .join('&');
}
