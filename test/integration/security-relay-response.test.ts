/**
 * The API relay answers its caller with a clean response even when the lower node is
 * hostile: a lower node speaking our link protocol with its own relay
 * executor sends hop-by-hop headers, Content-Length next to Transfer-Encoding,
 * Set-Cookie and a body longer than its Content-Length; the upper node passes none of it on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { relayResponder, StreamKind, type UpperLink } from '../../dataplane/cascade/index.js';
import { lightClient, waitState } from '../helpers/captured-node.js';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';

const TOKEN = 'hq-admin-token-0123';

/** One raw HTTP/1.1 exchange: the status line, the header lines and the raw bytes after them (bounded). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ head: string[]; rest: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete answer: ${JSON.stringify(buf.slice(0, 300))}`));
    }, 10_000);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: hq\r\n${extra}Connection: close\r\n\r\n`));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no header end: ${JSON.stringify(buf.slice(0, 300))}`));
      resolve({ head: buf.slice(0, end).split('\r\n'), rest: buf.slice(end + 4) });
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

const headerNames = (head: string[]): string[] => head.slice(1).map((l) => (l.split(':')[0] ?? '').toLowerCase());

describe('relay: a clean answer whatever the lower node sends', () => {
  let hq: TestNode;
  let lower: UpperLink;
  let lowerId = 0;
  before(async () => {
    hq = await startNode({
      name: 'hq',
      http: { listenaddr: '127.0.0.1:0', token: TOKEN },
      'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, relayapi: { enable: true } },
    });
    lower = lightClient(hq.app.addresses.quic!, hq.app.services.node.fingerprint!, 'hostile-lower-secret', 'hostile');
    lower.onStream(
      StreamKind.ApiRelay,
      relayResponder({
        execute: async (head, body) => {
          for await (const _ of body) void _;
          const spill = head.target.startsWith('/spill');
          const text = spill ? 'hello\r\n\r\nHTTP/1.1 200 OK\r\nX-Injected: 1\r\n\r\n' : 'hello';
          return {
            kind: 'response',
            head: {
              status: 200,
              headers: [
                ['Content-Type', 'text/plain'],
                ['Content-Length', '5'],
                ['Transfer-Encoding', 'chunked'],
                ['Connection', 'keep-alive, X-Hop'],
                ['X-Hop', 'named in Connection'],
                ['Keep-Alive', 'timeout=99'],
                ['Proxy-Authenticate', 'Basic realm=x'],
                ['Proxy-Foo', 'bar'],
                ['TE', 'trailers'],
                ['Trailer', 'X-Checksum'],
                ['Upgrade', 'h2c'],
                ['Set-Cookie', 'session=stolen; Path=/'],
                ['X-End-To-End', 'kept'],
              ],
            },
            body: (async function* () {
              yield new TextEncoder().encode(text);
            })(),
          };
        },
      }),
    );
    lower.start();
    await waitState(lower, (s) => s.state === 'online');
    lowerId = (
      await waitFor(async () => (await hq.app.services.clients.list({ online: true })).find((c) => c.name === 'hostile'), 10_000, 'hostile online')
    ).id;
  });
  after(async () => {
    await lower?.stop();
    await hq?.stop();
  });

  test('hop-by-hop headers, Transfer-Encoding next to Content-Length and Set-Cookie are not passed on', async () => {
    const r = await rawGet(hq.app.addresses.http.port, `/api/relay/${lowerId}/anything`, { authorization: `Bearer ${TOKEN}` });
    assert.match(r.head[0] ?? '', /^HTTP\/1\.1 200/);
    const names = headerNames(r.head);
    for (const h of ['keep-alive', 'proxy-authenticate', 'proxy-foo', 'te', 'trailer', 'upgrade', 'x-hop', 'set-cookie']) {
      assert.ok(!names.includes(h), `${h} was passed on: ${r.head.join(' | ')}`);
    }
    assert.ok(!(names.includes('content-length') && names.includes('transfer-encoding')), `both lengths: ${r.head.join(' | ')}`);
    assert.equal(names.filter((n) => n === 'connection').length, 1, 'only the upper node\'s own Connection header');
    assert.ok(r.head.some((l) => /^connection: close$/i.test(l)));
    assert.ok(names.includes('x-end-to-end'));
    assert.equal(r.rest, 'hello');
  });

  test('a body longer than its Content-Length cannot spill a second response into the connection', async () => {
    const r = await rawGet(hq.app.addresses.http.port, `/api/relay/${lowerId}/spill`, { authorization: `Bearer ${TOKEN}` });
    assert.doesNotMatch(r.rest, /X-Injected/);
    assert.ok(r.rest.length <= 5, JSON.stringify(r.rest));
  });
});
