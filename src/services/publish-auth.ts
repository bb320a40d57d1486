/**
 * Who may publish (`rtmp.publish`): global and per-path keys sent as `?key=…` (in the
 * publish name, the connect app or tcUrl, as OBS and ffmpeg send it), an optional HTTP
 * hook that allows or refuses each publish (as SRS `on_publish` and MediaMTX's auth URL:
 * POST JSON, 2xx allows, anything else or no answer in time refuses), and the paths a
 * connected lower node announced, which no publisher without a valid key may take.
 * Keys never reach a log line or a refusal message.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { PublishGate, PublishRequest, PublishVerdict } from '../../dataplane/media/index.js';
import type { CascadeServer, Forwarding } from '../../dataplane/cascade/index.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

/** `rtmp.publish` as configured. */
type PublishAuthConfig = Config['rtmp']['publish'];

/** True when publishing needs a key or the hook's consent. */
export function publishAuthOn(c: PublishAuthConfig): boolean {
  return c.keys.length > 0 || Object.keys(c.paths).length > 0 || c.hook !== null;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
const sameKey = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));

/** The keys the publisher sent (`key=` in its query). */
function presentedKeys(query: string): string[] {
  try {
    return new URLSearchParams(query).getAll('key').filter((k) => k.length > 0);
  } catch {
    return [];
  }
}

/** Where the hook goes, for log lines: its origin only (no user info, path or query). */
function hookLabel(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(hook)';
  }
}

/** The name of a connected lower node that announced `path`, or null. */
export function reservedBy(forwarding: Forwarding | null, server: CascadeServer | null, path: string): string | null {
  if (!forwarding || !server) return null;
  return forwarding.registry.whoAnnounced(path).find((n) => server.session(n.clientId) !== null)?.name ?? null;
}

interface PublishAuthOptions {
  config: PublishAuthConfig;
  /** The name of the connected lower node that announced `path`, or null. */
  reservedBy: (path: string) => string | null;
  logger: Logger;
}

/** The gate RTMP sessions ask before publishing. */
export function createPublishGate(opts: PublishAuthOptions): PublishGate {
  const c = opts.config;
  const log = opts.logger.child({ component: 'publish-auth' });
  const refuse = (status: 'NetStream.Publish.Unauthorized' | 'NetStream.Publish.BadName', reason: string): PublishVerdict => ({
    allow: false,
    status,
    reason,
  });

  /** True / false when keys decide; null when no key is configured for this path. */
  const keyVerdict = (req: PublishRequest): boolean | null => {
    const allowed = [...c.keys, ...(c.paths[req.path] ?? [])];
    if (allowed.length === 0) return null;
    const sent = presentedKeys(req.query);
    return sent.some((k) => allowed.some((a) => sameKey(k, a)));
  };

  const askHook = async (url: string, req: PublishRequest): Promise<boolean> => {
    const slash = req.path.indexOf('/');
    const body = JSON.stringify({
      action: 'publish',
      path: req.path,
      app: req.path.slice(0, slash),
      name: req.path.slice(slash + 1),
      ip: req.ip,
      protocol: req.protocol,
      query: req.query,
    });
    try {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(c.hookTimeoutMs),
      });
      await r.body?.cancel().catch(() => undefined);
      if (r.status >= 200 && r.status < 300) return true;
      log.info({ streamPath: req.path, ip: req.ip, hook: hookLabel(url), status: r.status }, 'publish hook refused');
      return false;
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      log.warn({ streamPath: req.path, ip: req.ip, hook: hookLabel(url), error: timedOut ? `no answer within ${c.hookTimeoutMs} ms` : 'unreachable' }, 'publish hook failed; refusing');
      return false;
    }
  };

  return async (req) => {
    const byKey = keyVerdict(req);
    if (byKey === false) return refuse('NetStream.Publish.Unauthorized', `publishing ${req.path} needs a valid key (?key=…)`);
    const lower = opts.reservedBy(req.path);
    if (lower !== null && byKey !== true) {
      return refuse('NetStream.Publish.BadName', `${req.path} is reserved for the stream of lower node ${lower}`);
    }
    if (c.hook !== null && !(await askHook(c.hook, req))) return refuse('NetStream.Publish.Unauthorized', `publishing ${req.path} was refused`);
    return { allow: true };
  };
}
