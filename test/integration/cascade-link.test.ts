/**
 * Cascade link sessions over the real QUIC transport on 127.0.0.1: authentication,
 * autoregister, rejection, hello timeout, bad input, replacement, kick, throttling,
 * stream-kind dispatch. The authority is a small in-memory one (the real one lives in
 * the control plane).
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pino from 'pino';
import { fingerprintOfPem, generateSelfSignedIdentity, LinkStreamResetError, type Link, type LinkStream, type TlsIdentity } from '../../dataplane/transport/index.js';
import { testTransport } from './udp-under-test.js';
import {
  UpperLink,
  CascadeServer,
  type AuthenticateRequest,
  type AuthenticateResult,
  type CascadeAuthority,
  type UpperLinkOptions,
  type UpperLinkState,
  type CascadeServerEvents,
  type CascadeServerLimits,
  type LinkDownInfo,
  type LinkUpInfo,
} from '../../dataplane/cascade/index.js';
import {
  CloseCode,
  closeReason,
  CONTROL_MAX_FRAME_BYTES,
  decodeControlFrame,
  encodeControlMessage,
  encodeFrame,
  FrameDecoder,
  isControlFrameType,
  StreamKind,
  type AnnounceMessage,
  type ControlMessage,
} from '../../dataplane/protocol/index.js';
import { sleep, waitUntil } from '../helpers/poll.js';

const logger = pino({ level: process.env.CASCADE_TEST_LOG ?? 'silent' });

/** In-memory authority: records by secret, optional autoregister. */
class MemoryAuthority implements CascadeAuthority {
  autoregister = false;
  private nextId = 1;
  readonly bySecret = new Map<string, { id: number; name: string }>();
  readonly calls: string[] = [];
  readonly requests: AuthenticateRequest[] = [];
  readonly online = new Map<number, LinkUpInfo>();

  addClient(secret: string, name: string): number {
    const id = this.nextId++;
    this.bySecret.set(secret, { id, name });
    return id;
  }

  async authenticate(req: AuthenticateRequest): Promise<AuthenticateResult> {
    this.requests.push(req);
    const rec = req.secret !== null ? this.bySecret.get(req.secret) : undefined;
    if (rec) return { ok: true, clientId: rec.id, name: rec.name };
    if (!this.autoregister) {
      const code = req.secret === null ? CloseCode.AuthSecretRequired : CloseCode.AuthUnknownSecret;
      return { ok: false, code, reason: closeReason(code) };
    }
    const taken = new Set([...this.bySecret.values()].map((r) => r.name));
    let name = req.name;
    for (let i = 2; taken.has(name); i++) name = `${req.name}-${i}`;
    const id = this.nextId++;
    this.bySecret.set(req.secret ?? `auto-${id}`, { id, name });
    return { ok: true, clientId: id, name, registered: true };
  }

  async linkUp(clientId: number, info: LinkUpInfo): Promise<void> {
    this.calls.push(`up:${clientId}${info.replaced ? ':replaced' : ''}`);
    this.online.set(clientId, info);
  }

  async linkDown(clientId: number, info: LinkDownInfo): Promise<void> {
    this.calls.push(`down:${clientId}:${info.code}`);
    this.online.delete(clientId);
  }
}


let identity: TlsIdentity;
let fingerprint: string;
const transport = testTransport();

async function startServer(
  t: TestContext,
  authority: CascadeAuthority,
  limits: Partial<CascadeServerLimits> = {},
): Promise<{ server: CascadeServer; port: number; events: Array<{ event: keyof CascadeServerEvents; payload: unknown }> }> {
  identity ??= await generateSelfSignedIdentity();
  fingerprint = fingerprintOfPem(identity.certPem);
  const server = new CascadeServer({
    transport,
    listen: { host: '127.0.0.1', port: 0 },
    tls: identity,
    authority,
    logger,
    serverName: 'hq',
    version: '9.9.9',
    limits,
  });
  const events: Array<{ event: keyof CascadeServerEvents; payload: unknown }> = [];
  for (const event of ['online', 'offline', 'rejected'] as const) server.on(event, (payload) => void events.push({ event, payload }));
  const { port } = await server.start();
  t.after(() => server.stop());
  return { server, port, events };
}

function startClient(t: TestContext, port: number, opts: Partial<UpperLinkOptions> = {}): { client: UpperLink; states: UpperLinkState[] } {
  const client = new UpperLink({
    transport,
    server: { host: '127.0.0.1', port },
    name: 'edge',
    version: '1.2.3',
    verify: { fingerprint },
    logger,
    timing: { rejectedRetryMs: 1_500 },
    ...opts,
  });
  const states: UpperLinkState[] = [];
  client.on('stateChanged', (s) => void states.push(s.state));
  client.start();
  t.after(() => client.stop());
  return { client, states };
}

/** A raw link to the server, for speaking bad protocol. */
async function rawLink(t: TestContext, port: number): Promise<Link> {
  const link = await transport.connect({ host: '127.0.0.1', port, fingerprint });
  t.after(() => link.close());
  return link;
}

async function closedWithin(link: Link, ms: number): Promise<{ code: number; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  const info = await Promise.race([link.closed, new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)))]);
  clearTimeout(timer);
  if (!info) throw new Error(`link not closed within ${ms} ms`);
  return info;
}

const helloBytes = (secret: string | null, name = 'raw'): Uint8Array =>
  encodeControlMessage({ type: 'hello', protocol: 1, name, version: '0', secret });

function withKind(kind: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.byteLength);
  out[0] = kind;
  out.set(bytes, 1);
  return out;
}

describe('cascade link sessions (real QUIC on 127.0.0.1)', { timeout: 120_000 }, () => {
  test('a known secret brings the link online; status, RTT and authority calls', async (t) => {
    const authority = new MemoryAuthority();
    const id = authority.addClient('s3cret', 'edge-1');
    const { server, port, events } = await startServer(t, authority);
    const { client } = startClient(t, port, { secret: 's3cret' });
    await waitUntil('client online', () => client.status().state === 'online');
    const st = client.status();
    assert.equal(st.clientId, id);
    assert.equal(st.clientName, 'edge-1');
    assert.equal(st.serverName, 'hq');
    assert.equal(st.serverVersion, '9.9.9');
    assert.equal(st.serverFingerprint, fingerprint);
    await waitUntil('server session', () => server.sessions().length === 1);
    const [info] = server.sessions();
    assert.equal(info?.clientId, id);
    assert.equal(info?.name, 'edge-1');
    assert.equal(info?.remoteAddress, '127.0.0.1');
    assert.equal(info?.version, '1.2.3');
    assert.ok(info?.connectedSince instanceof Date);
    await waitUntil('rtt measured on both sides', () => client.status().rttMs !== null && server.session(id)?.rttMs !== null, 4_000);
    const before = server.session(id)?.lastSeen.getTime() ?? 0;
    await sleep(1_300);
    assert.ok((server.session(id)?.lastSeen.getTime() ?? 0) > before, 'heartbeat updates lastSeen');
    await waitUntil('linkUp', () => authority.calls.includes(`up:${id}`));
    assert.equal(events.filter((e) => e.event === 'online').length, 1);
    assert.equal(server.fingerprint, fingerprint);

    await client.stop();
    await client.stop(); // idempotent
    assert.equal(client.status().state, 'stopped');
    await waitUntil('offline at server', () => server.sessions().length === 0, 3_000);
    const off = events.find((e) => e.event === 'offline')?.payload as CascadeServerEvents['offline'][0];
    assert.equal(off.code, CloseCode.ClientShutdown);
    await waitUntil('linkDown', () => authority.calls.includes(`down:${id}:${CloseCode.ClientShutdown}`));
    assert.ok(authority.requests.every((r) => r.secret === 's3cret'));
  });

  test('autoregister: no secret and unknown secrets become new records; the same secret keeps its record', async (t) => {
    const authority = new MemoryAuthority();
    authority.autoregister = true;
    const { server, port, events } = await startServer(t, authority);
    const a = startClient(t, port, { name: 'edge' }).client;
    const b = startClient(t, port, { name: 'edge', secret: 'fresh-secret' }).client;
    await waitUntil('both online', () => a.status().state === 'online' && b.status().state === 'online');
    assert.notEqual(a.status().clientId, b.status().clientId);
    assert.deepEqual(new Set([a.status().clientName, b.status().clientName]), new Set(['edge', 'edge-2']));
    const online = events.filter((e) => e.event === 'online').map((e) => e.payload as CascadeServerEvents['online'][0]);
    assert.ok(online.every((o) => o.registered));
    const idB = b.status().clientId;
    await b.stop();
    const b2 = startClient(t, port, { name: 'edge', secret: 'fresh-secret' }).client;
    await waitUntil('b2 online', () => b2.status().state === 'online');
    assert.equal(b2.status().clientId, idB);
    assert.equal(server.sessions().length, 2);
  });

  test('rejection: the client shows the plain reason, goes to rejected and retries slowly', async (t) => {
    const authority = new MemoryAuthority();
    const { port, events } = await startServer(t, authority);
    const { client } = startClient(t, port, { secret: 'wrong' });
    await waitUntil('rejected', () => client.status().state === 'rejected');
    assert.equal(client.status().lastError, 'authentication failed: unknown secret and autoregister is off');
    assert.equal(client.status().lastErrorCode, CloseCode.AuthUnknownSecret);
    const rej = events.find((e) => e.event === 'rejected')?.payload as CascadeServerEvents['rejected'][0];
    assert.equal(rej.remoteAddress, '127.0.0.1');
    assert.equal(rej.code, CloseCode.AuthUnknownSecret);
    assert.equal(rej.name, 'edge');
    // slow retry (rejectedRetryMs 1.5 s in these tests): no second attempt for a second
    assert.equal(authority.requests.length, 1);
    await sleep(1_000);
    assert.equal(authority.requests.length, 1);
    await waitUntil('second attempt', () => authority.requests.length === 2, 3_000);

    const nosecret = startClient(t, port).client;
    await waitUntil('rejected without secret', () => nosecret.status().state === 'rejected');
    assert.equal(nosecret.status().lastError, 'authentication failed: no secret given (a name is no credential)');
  });

  test('hello timeout: a link that never says HELLO is closed with a reason', async (t) => {
    const { port, server } = await startServer(t, new MemoryAuthority(), { helloTimeoutMs: 400 });
    const link = await rawLink(t, port);
    const t0 = Date.now();
    const info = await closedWithin(link, 3_000);
    assert.equal(info.code, CloseCode.HelloTimeout);
    assert.match(info.reason, /hello timeout/);
    assert.ok(Date.now() - t0 >= 300);
    assert.equal(server.sessions().length, 0);
  });

  test('bad input closes only the offending link; other clients stay online', async (t) => {
    const authority = new MemoryAuthority();
    const id = authority.addClient('good', 'good-edge');
    const { server, port } = await startServer(t, authority);
    const { client, states } = startClient(t, port, { secret: 'good' });
    await waitUntil('good client online', () => client.status().state === 'online');

    const cases: Array<{ name: string; kind: number; bytes: Uint8Array; code: number }> = [
      { name: 'oversize frame', kind: StreamKind.Control, bytes: new Uint8Array([0x01, 0xff, 0xff, 0xff, 0xff]), code: CloseCode.FrameTooLarge },
      { name: 'invalid JSON', kind: StreamKind.Control, bytes: encodeFrame(0x01, new TextEncoder().encode('{nope')), code: CloseCode.MalformedFrame },
      { name: 'unknown frame type', kind: StreamKind.Control, bytes: encodeFrame(0x3e, new Uint8Array(0)), code: CloseCode.UnknownFrameType },
      { name: 'PING before HELLO', kind: StreamKind.Control, bytes: encodeControlMessage({ type: 'ping', seq: 1, ts: 1 }), code: CloseCode.UnexpectedFrame },
      { name: 'unknown stream kind', kind: 0x09, bytes: new Uint8Array([1, 2, 3]), code: CloseCode.UnknownStreamKind },
      { name: 'media stream before auth', kind: StreamKind.MediaPush, bytes: new Uint8Array([1]), code: CloseCode.StreamBeforeAuth },
    ];
    for (const c of cases) {
      const link = await rawLink(t, port);
      const s = await link.openStream();
      await s.write(withKind(c.kind, c.bytes));
      const info = await closedWithin(link, 3_000);
      assert.equal(info.code, c.code, `${c.name}: code 0x${info.code.toString(16)} ${info.reason}`);
      assert.ok(info.reason.length > 0);
    }
    // a second HELLO after WELCOME (another record, so the good client is not replaced)
    authority.addClient('other', 'other-edge');
    const link = await rawLink(t, port);
    const s = await link.openStream();
    await s.write(withKind(StreamKind.Control, helloBytes('other')));
    await s.read(); // WELCOME
    await s.write(helloBytes('other'));
    assert.equal((await closedWithin(link, 3_000)).code, CloseCode.UnexpectedFrame);

    await sleep(300);
    assert.equal(client.status().state, 'online');
    assert.ok(!states.includes('backoff'), 'the good client never dropped');
    assert.equal(server.session(id)?.name, 'good-edge');
  });

  test('too many streams: the excess stream is reset with TooManyStreams, the link and the other streams go on', async (t) => {
    const authority = new MemoryAuthority();
    authority.addClient('k', 'k');
    const { server, port } = await startServer(t, authority, { maxStreamsPerLink: 3 });
    const held: LinkStream[] = [];
    server.onStream(StreamKind.MediaPull, (s) => {
      held.push(s);
      return s.closed;
    });
    const link = await rawLink(t, port);
    let closed = false;
    void link.closed.then(() => (closed = true));
    const ctl = await link.openStream();
    await ctl.write(withKind(StreamKind.Control, helloBytes('k')));
    await ctl.read(); // WELCOME
    const open = async (): Promise<LinkStream> => {
      const s = await link.openStream();
      await s.write(Uint8Array.of(StreamKind.MediaPull));
      return s;
    };
    const mine = [await open(), await open()]; // with the control stream: the limit
    await waitUntil('both held', () => held.length === 2, 3_000);
    const excess = await open();
    await assert.rejects(excess.read(), (e: unknown) => e instanceof LinkStreamResetError && e.code === CloseCode.TooManyStreams);
    mine[0]!.reset(CloseCode.Normal);
    await held[0]!.closed; // the server has counted it out
    await open();
    await waitUntil('the next stream is taken again', () => held.length === 3, 5_000);
    assert.equal(closed, false, 'the link is still up');
    assert.ok(server.sessions().length === 1);
  });

  test('a second connection of the same record replaces the first', async (t) => {
    const authority = new MemoryAuthority();
    const id = authority.addClient('dup', 'dup-edge');
    const { server, port, events } = await startServer(t, authority);
    const a = startClient(t, port, { secret: 'dup' }).client;
    await waitUntil('a online', () => a.status().state === 'online');
    const b = startClient(t, port, { secret: 'dup' }).client;
    await waitUntil('b online', () => b.status().state === 'online');
    await waitUntil('a replaced', () => a.status().state === 'rejected');
    assert.equal(a.status().lastError, 'replaced by a newer connection for the same client');
    assert.equal(a.status().lastErrorCode, CloseCode.Replaced);
    assert.equal(server.sessions().length, 1);
    assert.equal(server.sessions()[0]?.clientId, id);
    assert.equal(events.filter((e) => e.event === 'offline').length, 0, 'the record never went offline');
    const online = events.filter((e) => e.event === 'online').map((e) => e.payload as CascadeServerEvents['online'][0]);
    assert.deepEqual(online.map((o) => o.replaced), [false, true]);
    await waitUntil('authority calls', () => authority.calls.length === 2);
    assert.deepEqual(authority.calls, [`up:${id}`, `up:${id}:replaced`]);
  });

  test('kick closes the live link with the given code and reason', async (t) => {
    const authority = new MemoryAuthority();
    const id = authority.addClient('kick', 'kicked');
    const { server, port, events } = await startServer(t, authority);
    const { client } = startClient(t, port, { secret: 'kick' });
    await waitUntil('online', () => client.status().state === 'online');
    authority.bySecret.delete('kick');
    assert.equal(await server.kick(id, CloseCode.ClientDeleted), true);
    await waitUntil('client rejected', () => client.status().state === 'rejected');
    assert.equal(client.status().lastError, 'client record deleted');
    await waitUntil('offline event', () => events.some((e) => e.event === 'offline'));
    const off = events.find((e) => e.event === 'offline')?.payload as CascadeServerEvents['offline'][0];
    assert.equal(off.code, CloseCode.ClientDeleted);
    assert.equal(off.remote, false);
    assert.equal(await server.kick(id), false);
    assert.equal(await server.kick(12345, CloseCode.SecretChanged), false);
  });

  test('repeated auth failures from one address are throttled and reported once', async (t) => {
    const authority = new MemoryAuthority();
    const { port, events } = await startServer(t, authority, { authFailureLimit: 3, authFailureWindowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      const link = await rawLink(t, port);
      const s = await link.openStream();
      await s.write(withKind(StreamKind.Control, helloBytes('bad')));
      assert.equal((await closedWithin(link, 3_000)).code, CloseCode.AuthUnknownSecret);
    }
    for (let i = 0; i < 2; i++) {
      const link = await rawLink(t, port);
      const info = await closedWithin(link, 3_000);
      assert.equal(info.code, CloseCode.Throttled);
      assert.equal(info.reason, closeReason(CloseCode.Throttled));
    }
    assert.equal(authority.requests.length, 3, 'throttled attempts never reach the authority');
    const throttled = events.filter((e) => e.event === 'rejected' && (e.payload as CascadeServerEvents['rejected'][0]).code === CloseCode.Throttled);
    assert.equal(throttled.length, 1);
  });

  test('streams by kind: client-opened media stream reaches the server handler; unhandled kinds are reset', async (t) => {
    const authority = new MemoryAuthority();
    const id = authority.addClient('m', 'media-edge');
    const { server, port } = await startServer(t, authority);
    const received: Array<{ text: string; clientId: number; peer: string }> = [];
    server.onStream(StreamKind.MediaPush, async (stream, ctx) => {
      let text = '';
      for (let c = await stream.read(); c !== null; c = await stream.read()) text += new TextDecoder().decode(c);
      received.push({ text, clientId: ctx.clientId, peer: ctx.peerName });
      await stream.write(new TextEncoder().encode('ok'));
      await stream.end();
    });
    const { client } = startClient(t, port, { secret: 'm' });
    await waitUntil('online', () => client.status().state === 'online');
    const s = await client.openStream(StreamKind.MediaPush);
    await s.write(new TextEncoder().encode('hello media'));
    await s.end();
    let answer = '';
    for (let c = await s.read(); c !== null; c = await s.read()) answer += new TextDecoder().decode(c);
    assert.equal(answer, 'ok');
    assert.deepEqual(received, [{ text: 'hello media', clientId: id, peer: 'media-edge' }]);

    // server → client stream (API relay) with a handler on the client
    client.onStream(StreamKind.ApiRelay, async (stream, ctx) => {
      assert.equal(ctx.clientId, id);
      await stream.write(new TextEncoder().encode(`relay for ${ctx.peerName}`));
      await stream.end();
    });
    const r = await server.openStream(id, StreamKind.ApiRelay);
    let relay = '';
    for (let c = await r.read(); c !== null; c = await r.read()) relay += new TextDecoder().decode(c);
    assert.equal(relay, 'relay for hq');

    // no handler for MediaPull on the server: that stream is reset, the link goes on
    const pull = await client.openStream(StreamKind.MediaPull);
    await assert.rejects(async () => {
      for (let c = await pull.read(); c !== null; c = await pull.read());
      throw new Error('stream ended instead of being reset');
    }, (e: Error) => e.name === 'LinkStreamResetError');
    await sleep(200);
    assert.equal(client.status().state, 'online');
    await assert.rejects(server.openStream(999, StreamKind.ApiRelay), (e: Error & { code?: string }) => e.code === 'CASCADE_CLIENT_OFFLINE');
  });

  test('announce: deltas both ways, long lists split over frames', async (t) => {
    const authority = new MemoryAuthority();
    const id = authority.addClient('a', 'announcer');
    const { server, port } = await startServer(t, authority);
    const atServer: AnnounceMessage[] = [];
    server.on('announce', (e) => {
      assert.equal(e.clientId, id);
      atServer.push(e.message);
    });
    const { client } = startClient(t, port, { secret: 'a' });
    const atClient: AnnounceMessage[] = [];
    client.on('announce', (m) => void atClient.push(m));
    await assert.rejects(client.announce({ reset: true, added: [], removed: [] }), (e: Error & { code?: string }) => e.code === 'CASCADE_NOT_ONLINE');
    await waitUntil('online', () => client.status().state === 'online');
    const added = Array.from({ length: 1500 }, (_, i) => ({ path: `live/cam${i}` }));
    await client.announce({ reset: true, added, removed: [] });
    await waitUntil('all announced', () => atServer.flatMap((m) => m.added).length === 1500);
    assert.ok(atServer.length >= 2);
    assert.deepEqual(atServer.map((m) => m.reset), atServer.map((_, i) => i === 0));
    await server.announce(id, { reset: false, added: [{ path: 'live/hq' }], removed: ['live/old'] });
    await waitUntil('client got announce', () => atClient.length === 1);
    assert.deepEqual(atClient[0], { type: 'announce', reset: false, added: [{ path: 'live/hq' }], removed: ['live/old'] });
    assert.equal(client.status().state, 'online');
  });

  test('the client closes a link to a misbehaving server with a reason and backs off', async (t) => {
    identity ??= await generateSelfSignedIdentity();
    fingerprint = fingerprintOfPem(identity.certPem);
    type Behaviour = (ctl: LinkStream, hello: ControlMessage) => Promise<void>;
    let behaviour: Behaviour = async () => undefined;
    const hellos: ControlMessage[] = [];
    const listener = await transport.listen({
      host: '127.0.0.1',
      port: 0,
      tls: identity,
      onConnection: (link) => {
        link.onStream = (stream) => {
          void (async () => {
            const dec = new FrameDecoder({ maxFrameBytes: CONTROL_MAX_FRAME_BYTES, isKnownType: isControlFrameType });
            let first = true;
            for (let c = await stream.read(); c !== null; c = await stream.read()) {
              const bytes = first ? c.subarray(1) : c;
              first = false;
              const [f] = dec.push(bytes);
              if (f) {
                const hello = decodeControlFrame(f);
                hellos.push(hello);
                await behaviour(stream, hello);
                return;
              }
            }
          })().catch(() => undefined);
        };
      },
    });
    t.after(() => listener.close());
    const welcome = (interval: number, timeout: number): Uint8Array =>
      encodeControlMessage({
        type: 'welcome', protocol: 1, clientId: 3, clientName: 'c', serverName: 'raw', serverVersion: '0',
        heartbeatIntervalMs: interval, heartbeatTimeoutMs: timeout, features: [],
      });
    const cases: Array<{ name: string; behaviour: Behaviour; error: RegExp; code: number }> = [
      { name: 'no WELCOME', behaviour: async () => undefined, error: /^hello timeout: no WELCOME within 300 ms$/, code: CloseCode.HelloTimeout },
      { name: 'oversize frame', behaviour: (ctl) => ctl.write(new Uint8Array([0x02, 0x7f, 0, 0, 0])), error: /frame too large/, code: CloseCode.FrameTooLarge },
      { name: 'HELLO from the server', behaviour: (ctl) => ctl.write(helloBytes(null)), error: /unexpected frame HELLO/, code: CloseCode.UnexpectedFrame },
      { name: 'silent after WELCOME', behaviour: (ctl) => ctl.write(welcome(100, 400)), error: /^heartbeat timeout/, code: CloseCode.HeartbeatTimeout },
    ];
    for (const c of cases) {
      behaviour = c.behaviour;
      const client = new UpperLink({
        transport,
        server: { host: '127.0.0.1', port: listener.address.port },
        secret: 'sent-only-to-a-verified-server',
        name: 'probe',
        version: '0',
        verify: { fingerprint },
        logger,
        timing: { welcomeTimeoutMs: 300, backoffInitialMs: 5_000 },
      });
      client.start();
      try {
        await waitUntil(`backoff after ${c.name}`, () => client.status().state === 'backoff', 5_000);
        assert.match(client.status().lastError ?? '', c.error, c.name);
        assert.equal(client.status().lastErrorCode, c.code, c.name);
      } finally {
        await client.stop();
      }
    }
    const h = hellos[0];
    assert.ok(h?.type === 'hello' && h.secret === 'sent-only-to-a-verified-server' && h.name === 'probe' && h.protocol === 1);
  });

  test('fuzz: random bytes on raw links get a typed close; the server and a good client go on', async (t) => {
    const authority = new MemoryAuthority();
    authority.addClient('steady', 'steady');
    const { server, port } = await startServer(t, authority, { helloTimeoutMs: 300 });
    const { client, states } = startClient(t, port, { secret: 'steady' });
    await waitUntil('online', () => client.status().state === 'online');
    const samples = fc.sample(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }).map((b) => withKind(StreamKind.Control, b)),
        fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 100 })).map(([type, b]) => withKind(StreamKind.Control, encodeFrame(type, b))),
      ),
      { numRuns: 40, seed: 4242 },
    );
    const allowed = new Set<number>([
      CloseCode.MalformedFrame, CloseCode.FrameTooLarge, CloseCode.UnknownFrameType, CloseCode.UnexpectedFrame,
      CloseCode.StreamBeforeAuth, CloseCode.UnknownStreamKind, CloseCode.HelloTimeout, CloseCode.ProtocolError,
    ]);
    // in batches: the transport admits a bounded number of handshakes per address at once
    const batches = Array.from({ length: Math.ceil(samples.length / 8) }, (_, i) => samples.slice(i * 8, i * 8 + 8));
    for (const batch of batches) await Promise.all(
      batch.map(async (bytes) => {
        const link = await rawLink(t, port);
        const s = await link.openStream();
        await s.write(bytes).catch(() => undefined);
        const info = await closedWithin(link, 3_000);
        assert.ok(allowed.has(info.code), `code 0x${info.code.toString(16)} (${info.reason}) for ${Buffer.from(bytes).toString('hex').slice(0, 40)}`);
      }),
    );
    assert.equal(client.status().state, 'online');
    assert.ok(!states.includes('backoff'));
    assert.equal(server.sessions().length, 1);
  });
});
