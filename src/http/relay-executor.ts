/**
 * The lower node's side of the API relay: checks its own policy
 * (`cascade-client.relayapi`), then runs the relayed request against this node's own
 * HTTP listener and nowhere else, streaming the answer back.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { RelayAnswer, RelayExecutor } from '../../dataplane/cascade/index.js';
import type { Logger } from '../logger.js';
import { allowedBy, formatAddress, type Cidr } from '../net-address.js';
import { endToEndHeaders, RELAY_INTERNAL_HEADER, relayTargetProblem } from './relay-target.js';

/** A secret shared by a node's relay route and its executor only, marking its own relayed requests. */
export interface RelayInternal {
  readonly token: string;
}

/** Options of {@link createRelayExecutor}. */
interface RelayExecutorOptions {
  policy: { enable: boolean; whitelist: readonly Cidr[] };
  /** This node's HTTP listener (resolved per request: it is bound after the cascade client is built). */
  listener: () => { host: string; port: number };
  internal: RelayInternal;
  nodeName: string;
  logger: Logger;
}

/** Where to connect to reach our own listener. */
function ownHost(bound: string): string {
  if (bound === '0.0.0.0' || bound === '') return '127.0.0.1';
  if (bound === '::') return '::1';
  return bound;
}

function refused(status: number, message: string): RelayAnswer {
  return { kind: 'refused', status, message };
}

/** The executor to pass to `relayResponder`. */
export function createRelayExecutor(opts: RelayExecutorOptions): RelayExecutor {
  const log = opts.logger.child({ component: 'api-relay' });
  return async (head, body, signal, ctx) => {
    const started = Date.now();
    const path = head.target.split('?')[0] ?? '';
    const fields = { caller: head.caller, instance: ctx.clientId, upper: ctx.peerName, method: head.method, path };
    const done = (status: number, extra: Record<string, unknown> = {}): void => {
      log.info({ ...fields, status, durationMs: Date.now() - started, ...extra }, 'relayed request from the upper node');
    };
    if (!opts.policy.enable) {
      done(403, { refused: 'disabled' });
      return refused(403, `API relay is disabled on node ${opts.nodeName} (cascade-client.relayapi.enable)`);
    }
    if (!allowedBy(opts.policy.whitelist, head.caller)) {
      done(403, { refused: 'whitelist' });
      return refused(403, `caller ${head.caller} is not in the relay whitelist of node ${opts.nodeName}`);
    }
    const problem = relayTargetProblem(head.target);
    if (problem !== null || head.method.toUpperCase() === 'CONNECT') {
      done(400, { refused: 'target' });
      return refused(400, problem ?? 'CONNECT cannot be relayed');
    }
    const raw: string[] = [];
    for (const [k, v] of head.headers) raw.push(k, v);
    const headers: Array<[string, string]> = endToEndHeaders(raw);
    headers.push([RELAY_INTERNAL_HEADER.token, opts.internal.token], [RELAY_INTERNAL_HEADER.caller, head.caller]);
    const { host, port } = opts.listener();
    const connectHost = ownHost(host);
    headers.unshift(['host', formatAddress(connectHost, port)]);
    let req: http.ClientRequest;
    try {
      req = http.request({
        host: connectHost,
        port,
        method: head.method,
        path: head.target,
        headers: headers.flat(),
        agent: false,
        signal,
      });
    } catch (err) {
      done(400, { refused: 'headers' });
      return refused(400, `the relayed request is invalid: ${(err as Error).message.slice(0, 200)}`);
    }
    req.on('error', () => undefined); // reported through the response promise below
    const pumping = (async () => {
      // Without content-length the body goes chunked; a request without body sends none.
      for await (const chunk of body) {
        if (!req.write(chunk)) await Promise.race([once(req, 'drain'), once(req, 'close')]);
      }
      req.end();
    })();
    pumping.catch(() => req.destroy());
    let res: http.IncomingMessage;
    try {
      [res] = (await once(req, 'response')) as [http.IncomingMessage];
    } catch (err) {
      req.destroy();
      if (signal.aborted) {
        done(499, { aborted: true });
        return refused(502, 'relay aborted');
      }
      log.warn({ ...fields, err: (err as Error).message }, 'relayed request failed on the lower node');
      done(502);
      return refused(502, `the request failed on node ${opts.nodeName}`);
    }
    const status = res.statusCode ?? 502;
    const answerBody = (async function* (): AsyncGenerator<Uint8Array> {
      let ok = false;
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) yield chunk;
        ok = true;
      } finally {
        if (!ok) req.destroy();
        done(status, ok ? {} : { aborted: true });
      }
    })();
    return {
      kind: 'response',
      head: { status: status < 200 ? 502 : status, headers: endToEndHeaders(res.rawHeaders) },
      body: answerBody,
    };
  };
}
