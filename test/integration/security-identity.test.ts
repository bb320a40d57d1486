/**
 * Identity of lower nodes: each test attacks real nodes over loopback
 * (QUIC, HTTP) the way someone who knows only names, or holds another certificate of
 * the same CA, would; docs/SECURITY.md lists what the node does.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { CloseCode } from '../../dataplane/protocol/index.js';
import { configFromObject } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { legacySecretHash } from '../../src/security/secret-digest.js';
import { attemptOnce } from '../helpers/captured-node.js';
import { rest, startNode, waitFor, type TestNode } from '../helpers/node.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const silent = pino({ level: 'silent' });

/** A GraphQL call with a plain query text. */
async function graphql(node: { url: string }, query: string, variables: Record<string, unknown> = {}): Promise<{ data?: Record<string, unknown>; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const r = await fetch(`${node.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await r.json()) as { data?: Record<string, unknown> };
}

interface Upstream {
  state: string;
  clientId: number | null;
  clientName: string | null;
  lastError: string | null;
  trust: string;
}

async function upstream(node: TestNode): Promise<Upstream> {
  const r = await graphql(node, '{ upstream { state clientId clientName lastError trust } }');
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  return r.data!.upstream as Upstream;
}

type ClientJson = { id: number; name: string; online: boolean };
async function clients(node: { url: string }): Promise<ClientJson[]> {
  return (await rest(node, 'GET', '/api/cascade/clients')).json.data as ClientJson[];
}

describe('identity of lower nodes', { timeout: 240_000 }, () => {
  const nodes: TestNode[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
    for (const d of dirs) removeDir(d);
  });
  async function start(config: Record<string, unknown>, dbUrl?: string): Promise<TestNode> {
    const n = await startNode(config, dbUrl);
    nodes.push(n);
    return n;
  }
  async function stop(n: TestNode): Promise<void> {
    nodes.splice(nodes.indexOf(n), 1);
    await n.stop();
  }
  function upper(extra: Record<string, unknown> = {}, dbUrl?: string): Promise<TestNode> {
    return start({ name: 'hq', 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, relayapi: { enable: true }, ...extra } }, dbUrl);
  }
  function lower(hq: TestNode, name: string, cc: Record<string, unknown> = {}): Promise<TestNode> {
    return start({ name, 'cascade-client': { server: `127.0.0.1:${hq.app.addresses.quic!.port}`, relayapi: { enable: true }, ...cc } });
  }

  test('a name is no credential: an impostor with a known name never gets the record nor its relayed calls', async () => {
    const hq = await upper({ autoregister: true });
    const quic = hq.app.addresses.quic!;
    const fp = hq.app.services.node.fingerprint!;
    // The real lower node, with no secret configured (the spec's simplest example).
    const real = await lower(hq, 'edge-victim');
    const first = await waitFor(async () => ((await upstream(real)).state === 'ONLINE' ? upstream(real) : null), 20_000, 'real edge online');
    const victimId = first.clientId!;
    await stop(real);
    await waitFor(async () => (await clients(hq)).find((c) => c.id === victimId && !c.online), 20_000, 'victim offline');

    // Attack 1: a bare HELLO with the victim's name and no secret.
    const bare = await attemptOnce(quic, fp, null, 'edge-victim');
    assert.equal(bare.state, 'rejected', `a secretless HELLO is refused (got ${JSON.stringify(bare)})`);
    assert.equal(bare.lastErrorCode, CloseCode.AuthSecretRequired);

    // Attack 2: a whole node named like the victim, with a datadir of its own.
    const impostor = await lower(hq, 'edge-victim');
    const up = await waitFor(async () => {
      const u = await upstream(impostor);
      return u.state === 'ONLINE' || u.state === 'REJECTED' ? u : null;
    }, 20_000, 'impostor settled');
    assert.notEqual(up.clientId, victimId, 'the impostor is not given the victim\'s record');
    const victim = (await clients(hq)).find((c) => c.id === victimId)!;
    assert.equal(victim.online, false, 'the victim\'s record stays offline');
    assert.equal(victim.name, 'edge-victim');

    // A relayed call for the victim, with cookies and the lower node's token, reaches nobody.
    const relayed = await fetch(`${hq.url}/api/relay/${victimId}/api/stream/list`, {
      headers: { cookie: 'session=victim-cookie', 'x-relay-authorization': 'Bearer victim-token' },
    });
    assert.equal(relayed.status, 503, 'the victim is offline: the call is not handed to the impostor');
    await relayed.text();
    await stop(impostor);
    await stop(hq);
  });

  test('auto-registration is bounded per address: a flood of new names makes at most peraddress records, refused and visible', async () => {
    const hq = await upper({ autoregister: true, autoregisterlimit: { peraddress: 5, perhour: 50, rate: 100, burst: 100 } });
    const quic = hq.app.addresses.quic!;
    const fp = hq.app.services.node.fingerprint!;
    const outcomes: number[] = [];
    for (let i = 0; i < 30; i++) {
      const st = await attemptOnce(quic, fp, `flood-secret-${i}-xxxxxxxx`, `flood-${i}`);
      outcomes.push(st.state === 'online' ? 0 : (st.lastErrorCode ?? -1));
    }
    const list = await clients(hq);
    assert.equal(list.length, 5, `at most 5 records from one address (got ${list.length})`);
    assert.equal(outcomes.filter((c) => c === 0).length, 5);
    assert.ok(outcomes.includes(CloseCode.RegistrationLimited), `refused with RegistrationLimited: ${outcomes.join(',')}`);
    assert.ok(outcomes.includes(CloseCode.Throttled), `then the address is throttled like failed secrets: ${outcomes.join(',')}`);
    const node = await graphql(hq, '{ node { autoregister { enabled perAddressPerHour perHour ratePerSec burst created createdThisHour refused } } }');
    assert.equal(node.errors, undefined, JSON.stringify(node.errors));
    assert.deepEqual(node.data!.node, {
      autoregister: { enabled: true, perAddressPerHour: 5, perHour: 50, ratePerSec: 100, burst: 100, created: 5, createdThisHour: 5, refused: outcomes.filter((c) => c === CloseCode.RegistrationLimited).length },
    });
    await stop(hq);
  });

  test('auto-registration defaults bound a flood too (10 per address per hour)', async () => {
    const hq = await upper({ autoregister: true });
    const quic = hq.app.addresses.quic!;
    const fp = hq.app.services.node.fingerprint!;
    for (let i = 0; i < 25; i++) await attemptOnce(quic, fp, `default-flood-${i}-xxxxxxxx`, `df-${i}`);
    assert.equal((await clients(hq)).length, 10);
    await stop(hq);
  });

  test('secrets: keyed digests with a 0600 key in the datadir, 12 characters at least, no "secret taken" oracle', async () => {
    const hq = await upper({ autoregister: false });
    const keyFile = path.join(hq.datadir, 'secret-hmac.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file is private');

    // Too short: the envelope error from REST and GraphQL; nothing created.
    const short = await rest(hq, 'POST', '/api/cascade/clients', { name: 'short', secret: 'eleven-char' });
    assert.equal(short.status, 400);
    assert.equal(short.json.code, 400);
    assert.match(short.json.message, /at least 12 characters/);
    const gShort = await graphql(hq, 'mutation($s: String!) { createClient(name: "short-g", secret: $s) { id } }', { s: 'eleven-char' });
    assert.equal(gShort.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.throws(() => configFromObject({ 'cascade-client': { server: 'h:1', secret: 'eleven-char' } }, 'edge.yaml'), /^ConfigError: edge\.yaml: cascade-client\.secret: must be at least 12 characters$/);
    assert.equal((await clients(hq)).length, 0);

    // The spec's own examples pass.
    const a = await rest(hq, 'POST', '/api/cascade/clients', { name: 'edge-node-1', secret: 'unique-secret-key' });
    assert.equal(a.status, 200);
    // Guessing another record's secret gets the same answer as any other secret.
    const b = await rest(hq, 'POST', '/api/cascade/clients', { name: 'edge-node-2', secret: 'unique-secret-key' });
    assert.equal(b.status, 200, 'a secret in use is not revealed');
    const c = await rest(hq, 'POST', '/api/cascade/clients', { name: 'edge-node-3', secret: 'another-secret-key' });
    assert.deepEqual([b.json.code, b.json.message], [c.json.code, c.json.message]);
    const bId = (b.json.data as { id: number }).id;
    // The shared secret: the record named like the lower node is the one it gets.
    const edge = await lower(hq, 'edge-node-2', { secret: 'unique-secret-key' });
    const up = await waitFor(async () => ((await upstream(edge)).state === 'ONLINE' ? upstream(edge) : null), 20_000, 'edge-node-2 online');
    assert.equal(up.clientId, bId);
    // Shared, and no record by that name: refused rather than guessed.
    const other = await lower(hq, 'edge-node-9', { secret: 'unique-secret-key' });
    const refused = await waitFor(async () => ((await upstream(other)).state === 'REJECTED' ? upstream(other) : null), 20_000, 'ambiguous refused');
    assert.match(refused.lastError ?? '', /shared by several client records/);
    await stop(other);
    await stop(edge);
    await stop(hq);
  });

  test('secrets stored by the previous version (plain SHA-256) are migrated at start and keep working; another key is refused', async () => {
    const dir = tempDir('sc-legacy-db-');
    dirs.push(dir);
    const dbCfg = { kind: 'pglite' as const, url: `pglite://${dir}`, dir };
    const legacy = await openDatabase(dbCfg, silent);
    await legacy.dataSource.undoLastMigration({ transaction: 'each' }); // the schema as the previous version left it
    await legacy.dataSource.query(`INSERT INTO "cascade_client" ("name", "secret_hash") VALUES ('old-edge', $1)`, [legacySecretHash('old-edge-secret-key')]);
    await legacy.close();

    const hq = await upper({ autoregister: false }, dbCfg.url);
    const key = readFileSync(path.join(hq.datadir, 'secret-hmac.key'), 'utf8').trim();
    const edge = await lower(hq, 'old-edge', { secret: 'old-edge-secret-key' });
    const up = await waitFor(async () => ((await upstream(edge)).state === 'ONLINE' ? upstream(edge) : null), 20_000, 'old record online');
    assert.equal(up.clientName, 'old-edge');
    await stop(edge);
    await stop(hq);

    const after = await openDatabase(dbCfg, silent);
    try {
      const rows = (await after.dataSource.query(`SELECT "secret_hash", "secret_scheme" FROM "cascade_client"`)) as { secret_hash: string; secret_scheme: string }[];
      const expected = createHmac('sha256', Buffer.from(key, 'base64url')).update(legacySecretHash('old-edge-secret-key')).digest('hex');
      assert.deepEqual(rows, [{ secret_hash: expected, secret_scheme: 'hmac-sha256' }], 'the stored value is the keyed digest, not the plain hash');
    } finally {
      await after.close();
    }
    // Another datadir (another key) on this database would orphan every secret: refused, naming the file.
    await assert.rejects(upper({ autoregister: false }, dbCfg.url), /secret-hmac\.key is not the key this database's secrets were stored with/);
  });

  test('the upper node is verified against the host dialled, not a fixed name; trust is explicit', async () => {
    const dir = tempDir('sc-ca-');
    dirs.push(dir);
    const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const leaf = (name: string, san: string): { certfile: string; keyfile: string } => {
      writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
      ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(Date.now() % 1e9), '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
      return { certfile: path.join(dir, `${name}.pem`), keyfile: path.join(dir, `${name}.key`) };
    };
    const cafile = path.join(dir, 'ca.pem');

    // Another host's certificate from the same CA (it names the old fixed name, not 127.0.0.1).
    const elsewhere = await upper({ quic: { listenaddr: '127.0.0.1:0', ...leaf('other-host', 'DNS:stream-cascade,IP:127.0.0.2') }, autoregister: true });
    const fooled = await lower(elsewhere, 'ca-edge', { cafile, secret: 'ca-edge-secret-key' });
    const refused = await waitFor(async () => {
      const u = await upstream(fooled);
      return u.lastError ? u : null;
    }, 20_000, 'verification failure');
    assert.notEqual(refused.state, 'ONLINE');
    assert.match(refused.lastError ?? '', /not valid for 127\.0\.0\.1/);
    assert.equal((await clients(elsewhere)).length, 0, 'no secret reached the impostor');
    await stop(fooled);
    await stop(elsewhere);

    // The right host's certificate (IP SAN of the address dialled).
    const right = await upper({ quic: { listenaddr: '127.0.0.1:0', ...leaf('hq', 'IP:127.0.0.1') }, autoregister: true });
    const good = await lower(right, 'ca-edge', { cafile, secret: 'ca-edge-secret-key', trust: 'ca' });
    const online = await waitFor(async () => ((await upstream(good)).state === 'ONLINE' ? upstream(good) : null), 20_000, 'CA-verified online');
    assert.equal(online.trust, 'CA');
    await stop(good);
    await stop(right);

    // Trust on first use is a choice the config states, not a silent default of a pin or CA.
    assert.throws(() => configFromObject({ 'cascade-client': { server: 'h:1', trust: 'pin' } }, 'e.yaml'), /cascade-client\.trust: "pin" needs cascade-client\.fingerprint/);
    assert.throws(() => configFromObject({ 'cascade-client': { server: 'h:1', trust: 'tofu', cafile } }, 'e.yaml'), /"tofu" cannot go with cafile/);
    const tofu = configFromObject({ 'cascade-client': { server: 'h:1', trust: 'tofu' } }).cascadeClient!;
    assert.deepEqual([tofu.trust, tofu.trustExplicit], ['tofu', true]);
  });
});
