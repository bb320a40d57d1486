/**
 * No secret or token ever appears in logs (at debug level), error answers or config
 * error messages; node and client names with control or bidirectional
 * formatting characters are refused wherever they enter (config, REST, GraphQL, link
 * hello), stream names too (RTMP publish).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, configFromObject, loadConfigFile } from '../../src/config.js';
import { attemptOnce, lightClient, startCapturedNode, waitState, type CapturedNode } from '../helpers/captured-node.js';
import { publishTestStream } from '../helpers/ffmpeg.js';
import { waitFor } from '../helpers/node.js';
import { hasFfmpeg } from '../helpers/requirements.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const UPPER_TOKEN = 'upper-admin-token-S1';
const LOWER_TOKEN = 'lower-admin-token-S2';
const LOWER_SECRET = 'lower-link-secret-S3';
const PUBLISH_KEY = 'publish-key-S4';
const CREATED_SECRET = 'created-client-secret-S5';
const GQL_SECRET = 'graphql-variable-secret-S6';
const WRONG_TOKEN = 'wrong-admin-token-S7';
const WRONG_SECRET = 'wrong-link-secret-S8';
const WRONG_KEY = 'wrong-publish-key-S9';
const INLINE_SECRET = 'inline-literal-secret-S10';
const ALL = [UPPER_TOKEN, LOWER_TOKEN, LOWER_SECRET, PUBLISH_KEY, CREATED_SECRET, GQL_SECRET, WRONG_TOKEN, WRONG_SECRET, WRONG_KEY, INLINE_SECRET];

function leaks(text: string): string[] {
  return ALL.filter((s) => text.includes(s));
}

const BIDI = ['\u202e', '\u202a', '\u2066', '\u2069', '\u0007', '\u0085'];

describe('secrets never reach logs or error answers', () => {
  let upper: CapturedNode;
  let lower: CapturedNode;
  const answers: string[] = [];
  const seen = async (r: Response): Promise<Response> => {
    answers.push(`${r.status} ${JSON.stringify([...r.headers])} ${await r.clone().text()}`);
    return r;
  };
  before(async () => {
    upper = await startCapturedNode({
      name: 'upper',
      http: { listenaddr: '127.0.0.1:0', token: UPPER_TOKEN },
      rtmp: { listenaddr: '127.0.0.1:0', publish: { keys: [PUBLISH_KEY] } },
      'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, autoregister: true, relayapi: { enable: true } },
    });
    lower = await startCapturedNode({
      name: 'lower',
      http: { listenaddr: '127.0.0.1:0', token: LOWER_TOKEN },
      'cascade-client': { server: `127.0.0.1:${upper.app.addresses.quic!.port}`, secret: LOWER_SECRET, relayapi: { enable: true } },
    });
    await waitFor(async () => (await upper.app.services.clients.list({ online: true })).some((c) => c.name === 'lower'), 15_000, 'lower online');
  });
  after(async () => {
    await lower?.stop();
    await upper?.stop();
  });

  test('links, relay, REST, GraphQL, publishes and wrong credentials at debug level leave no secret behind', async () => {
    const auth = { authorization: `Bearer ${UPPER_TOKEN}` };
    const json = { 'content-type': 'application/json' };
    await seen(await fetch(`${upper.url}/api/cascade/clients`, { method: 'POST', headers: { ...json, ...auth }, body: JSON.stringify({ name: 'made', secret: CREATED_SECRET }) }));
    await seen(await fetch(`${upper.url}/api/cascade/clients`, { method: 'POST', headers: { ...json, ...auth }, body: JSON.stringify({ name: 'made', secret: CREATED_SECRET }) }));
    await seen(await fetch(`${upper.url}/api/cascade/clients`, { method: 'POST', headers: { ...json, authorization: `Bearer ${WRONG_TOKEN}` }, body: JSON.stringify({ name: 'x', secret: CREATED_SECRET }) }));
    await seen(await fetch(`${upper.url}/api/cascade/clients`, { method: 'POST', headers: { ...json, ...auth }, body: `{"name": "bad", "secret": "${CREATED_SECRET}"` }));
    const mutation = 'mutation ($s: String!) { createClient(name: "via-gql", secret: $s) { id } }';
    await seen(await fetch(`${upper.url}/graphql`, { method: 'POST', headers: { ...json, ...auth }, body: JSON.stringify({ query: mutation, variables: { s: GQL_SECRET } }) }));
    await seen(await fetch(`${upper.url}/graphql`, { method: 'POST', headers: { ...json, ...auth }, body: JSON.stringify({ query: mutation, variables: { s: 12345 } }) }));
    await seen(await fetch(`${upper.url}/graphql`, { method: 'POST', headers: { ...json, authorization: `Bearer ${WRONG_TOKEN}` }, body: JSON.stringify({ query: mutation, variables: { s: GQL_SECRET } }) }));
    await seen(await fetch(`${upper.url}/graphql`, { method: 'POST', headers: { ...json, ...auth }, body: JSON.stringify({ query: `mutation { createClient(name: "inline", secret: "${INLINE_SECRET}") { nope } }` }) }));
    await seen(await fetch(`${upper.url}/graphql?query=${encodeURIComponent(`mutation { createClient(name: "get", secret: "${INLINE_SECRET}") { id } }`)}`, { headers: auth }));
    // The relay, with the lower node's token carried down.
    const lowerId = (await upper.app.services.clients.list()).find((c) => c.name === 'lower')!.id;
    await seen(await fetch(`${upper.url}/api/relay/${lowerId}/api/cascade/clients`, { headers: { ...auth, 'x-relay-authorization': `Bearer ${LOWER_TOKEN}` } }));
    await seen(await fetch(`${upper.url}/api/relay/${lowerId}/api/cascade/clients`, { method: 'POST', headers: { ...json, ...auth, 'x-relay-authorization': `Bearer ${WRONG_TOKEN}` }, body: '{}' }));
    // A link with a wrong secret, under a taken name and a new one.
    await attemptOnce(upper.app.addresses.quic!, upper.app.services.node.fingerprint!, WRONG_SECRET, 'lower');
    await attemptOnce(upper.app.addresses.quic!, upper.app.services.node.fingerprint!, WRONG_SECRET, 'made');
    // A player asking with a key in its URL.
    await seen(await fetch(`${upper.url}/live/none.flv?key=${WRONG_KEY}`));
    if (hasFfmpeg()) {
      const bad = publishTestStream(`rtmp://127.0.0.1:${upper.app.addresses.rtmp.port}/live/s?key=${WRONG_KEY}`, 10);
      await Promise.race([bad.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      await bad.stop();
      const good = publishTestStream(`rtmp://127.0.0.1:${upper.app.addresses.rtmp.port}/live/s?key=${PUBLISH_KEY}`, 10);
      try {
        await waitFor(() => upper.app.hub.has('live/s'), 15_000, 'keyed publish');
      } finally {
        await good.stop();
      }
    }
    assert.ok(upper.logs.length > 20 && lower.logs.some((l) => l.level === 20), 'debug lines were captured');
    assert.deepEqual(leaks(upper.logText()), [], 'upper node log');
    assert.deepEqual(leaks(lower.logText()), [], 'lower node log');
    assert.deepEqual(leaks(answers.join('\n')), [], 'answers');
  });

  test('names with control or bidirectional formatting characters are refused: REST, GraphQL, link hello', async () => {
    const auth = { authorization: `Bearer ${UPPER_TOKEN}`, 'content-type': 'application/json' };
    for (const c of BIDI) {
      const name = `cam${c}gpj.exe`;
      const r = await fetch(`${upper.url}/api/cascade/clients`, { method: 'POST', headers: auth, body: JSON.stringify({ name, secret: 'bidi-secret-0123' }) });
      assert.equal(r.status, 400, JSON.stringify(name));
      const g = await fetch(`${upper.url}/graphql`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ query: 'mutation ($n: String!) { createClient(name: $n, secret: "bidi-secret-0123") { id } }', variables: { n: name } }),
      });
      const gj = (await g.json()) as { errors?: unknown[] };
      assert.ok(gj.errors && gj.errors.length > 0, JSON.stringify(name));
    }
    const rogue = lightClient(upper.app.addresses.quic!, upper.app.services.node.fingerprint!, 'rogue-secret-0123', 'evil\u202egnp');
    rogue.start();
    try {
      const s = await waitState(rogue, (x) => x.state === 'rejected' || x.state === 'backoff' || x.state === 'online');
      assert.notEqual(s.state, 'online');
    } finally {
      await rogue.stop();
    }
    const names = (await upper.app.services.clients.list()).map((c) => c.name);
    assert.ok(names.every((n) => !BIDI.some((c) => n.includes(c))), JSON.stringify(names));
  });

  test('RTMP: a stream name with a bidi override is refused', { skip: hasFfmpeg() ? false : 'no ffmpeg' }, async () => {
    const p = publishTestStream(`rtmp://127.0.0.1:${upper.app.addresses.rtmp.port}/live/a\u202eb?key=${PUBLISH_KEY}`, 10);
    await Promise.race([p.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await p.stop();
    assert.ok(upper.app.hub.list().every((s) => !s.path.includes('\u202e')));
  });
});

describe('config errors never quote a secret', () => {
  test('a wrong type or a bad value under token, secret or publish keys names the key, not the value', () => {
    const cases: Record<string, unknown>[] = [
      { http: { token: 98765432101234 } },
      { http: { token: ['token-in-a-list-S11'] } },
      { 'cascade-client': { server: '127.0.0.1:1', secret: 12345678901234 } },
      { rtmp: { publish: { keys: [45678901234567] } } },
      { rtmp: { publish: { paths: { 'live/cam': 56789012345678 } } } },
      { database: { url: 67890123456789 } },
      { name: `node\u202eevil` },
    ];
    for (const raw of cases) {
      const err = (() => {
        try {
          configFromObject(raw, 'node.yaml');
        } catch (e) {
          return e;
        }
        return null;
      })();
      assert.ok(err instanceof ConfigError, JSON.stringify(raw));
      assert.match(err.message, /^node\.yaml: /);
      for (const secret of ['98765432101234', 'token-in-a-list-S11', '12345678901234', '45678901234567', '56789012345678', '67890123456789']) {
        assert.ok(!err.message.includes(secret), err.message);
      }
    }
  });

  test('a YAML syntax error on a line with a token does not quote the line', () => {
    const dir = tempDir('sc-secret-yaml-');
    try {
      const file = path.join(dir, 'node.yaml');
      writeFileSync(file, `http:\n  token: "yaml-token-S12\n  listenaddr: [:0\n`);
      assert.throws(() => loadConfigFile(file), (e: Error) => e instanceof ConfigError && !e.message.includes('yaml-token-S12'));
    } finally {
      removeDir(dir);
    }
  });
});
