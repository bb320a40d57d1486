import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, configFromObject, defaultConfig, loadConfigFile } from '../../src/config.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('sc-config-');
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('expected an error');
}

describe('config', () => {
  test('cluster: absent is a single node; present is a replica named like the node unless told', () => {
    assert.equal(defaultConfig('/srv/x').cluster, null);
    const c = configFromObject({ name: 'hq-1', cluster: { redis: 'redis://10.0.0.9:6379/2' } });
    assert.deepEqual(c.cluster, { redisUrl: 'redis://10.0.0.9:6379/2', replica: 'hq-1', secret: null, prefix: 'stream-cascade', leaseTtlMs: 6_000 });
    const d = configFromObject({ cluster: { redis: 'rediss://h:6380', replica: 'b', secret: 'sixteen-chars-at-least', leasettl: 3_000 } });
    assert.equal(d.cluster?.replica, 'b');
    assert.equal(d.cluster?.leaseTtlMs, 3_000);
  });

  test('cluster: bad keys name the key, never echo the Redis URL', () => {
    const bad = errorOf(() => configFromObject({ cluster: { redis: 'http://user:pw@h:1' } }, 'hq.yaml'));
    assert.match(bad, /^hq\.yaml: cluster\.redis: expected "redis:\/\/host:port"/);
    assert.ok(!bad.includes('pw'), bad);
    assert.match(errorOf(() => configFromObject({ cluster: {} }, 'hq.yaml')), /cluster\.redis/);
    assert.match(errorOf(() => configFromObject({ cluster: { redis: 'redis://h:1', replica: 'a b' } }, 'hq.yaml')), /cluster\.replica: expected letters/);
    assert.match(errorOf(() => configFromObject({ cluster: { redis: 'redis://h:1', secret: 'short' } }, 'hq.yaml')), /cluster\.secret: must be at least 16/);
    assert.match(errorOf(() => configFromObject({ cluster: { redis: 'redis://h:1', leasettl: 100 } }, 'hq.yaml')), /cluster\.leasettl/);
    assert.match(errorOf(() => configFromObject({ cluster: { redis: 'redis://h:1', bogus: 1 } }, 'hq.yaml')), /cluster.*bogus/);
  });

  test('defaults: cascade server on, PGlite under ./data, the spec ports', () => {
    const c = defaultConfig('/srv/x');
    assert.equal(c.datadir, '/srv/x/data');
    assert.deepEqual(c.http.listen, { host: null, port: 8080 });
    assert.deepEqual(c.rtmp.listen, { host: null, port: 1935 });
    assert.deepEqual(c.database, { kind: 'pglite', url: 'pglite:///srv/x/data/db', dir: '/srv/x/data/db' });
    assert.ok(c.cascadeServer);
    assert.deepEqual(c.cascadeServer.listen, { host: null, port: 44944 });
    assert.equal(c.cascadeServer.autoregister, true);
    assert.equal(c.cascadeServer.relayApi.enable, false);
    assert.deepEqual(c.cascadeServer.relayApi.whitelist, []);
    assert.equal(c.cascadeClient, null);
    assert.equal(c.log.level, 'info');
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.cascadeServer.listen), 'frozen');
  });

  test('the spec examples parse', () => {
    const server = loadConfigFile(
      file(
        'hq.yaml',
        `cascade-server:\n  quic:\n    listenaddr: ":44944"\n  autoregister: true\n  relayapi:\n    enable: true\n    whitelist:\n      - "192.168.1.0/24"\n      - "10.0.0.0/8"\n`,
      ),
    );
    assert.equal(server.cascadeServer?.relayApi.whitelist.length, 2);
    assert.equal(server.file, 'hq.yaml');
    const client = loadConfigFile(
      file(
        'edge.yaml',
        `cascade-client:\n  server: "192.168.1.100:44944"\n  secret: "your-secret-key"\n  autopush: true\n  pull:\n    - streampath: "live/camera1"\n      pullurl: "cascade://live/camera1"\n  relayapi:\n    enable: true\n    whitelist:\n      - "192.168.1.0/24"\n`,
      ),
    );
    assert.deepEqual(client.cascadeClient?.server, { host: '192.168.1.100', port: 44944 });
    assert.equal(client.cascadeClient?.secret, 'your-secret-key');
    assert.equal(client.cascadeClient?.autopush, true);
    assert.deepEqual(client.cascadeClient?.pull, [{ streamPath: 'live/camera1', pullUrl: 'cascade://live/camera1' }]);
    assert.equal(client.cascadeServer, null);
  });

  test('listen addresses: ":port", "host:port", "[v6]:port"', () => {
    const c = configFromObject({
      http: { listenaddr: '127.0.0.1:9000' },
      rtmp: { listenaddr: '[::1]:1936' },
      'cascade-server': { quic: { listenaddr: ':0' } },
    });
    assert.deepEqual(c.http.listen, { host: '127.0.0.1', port: 9000 });
    assert.deepEqual(c.rtmp.listen, { host: '::1', port: 1936 });
    assert.deepEqual(c.cascadeServer?.listen, { host: null, port: 0 });
  });

  test('quic tuning: defaults and bounds', () => {
    assert.deepEqual(defaultConfig('/x').quic, { congestion: 'bbr', maxUdpPayloadBytes: 1350, udp: 'auto', retry: 'auto' });
    assert.deepEqual(configFromObject({ quic: { congestion: 'bbr', maxudppayload: 1452, udp: 'dgram', retry: 'on' } }).quic, {
      congestion: 'bbr',
      maxUdpPayloadBytes: 1452,
      udp: 'dgram',
      retry: 'on',
    });
    assert.match(errorOf(() => configFromObject({ quic: { retry: 'yes' } }, 'q.yaml')), /^q\.yaml: quic\.retry: expected one of "off", "on", "auto"$/);
    assert.match(errorOf(() => configFromObject({ quic: { udp: 'fast' } }, 'q.yaml')), /^q\.yaml: quic\.udp: expected one of "auto", "native", "dgram"$/);
    assert.match(errorOf(() => configFromObject({ quic: { congestion: 'bbr2' } }, 'q.yaml')), /^q\.yaml: quic\.congestion: expected one of "bbr", "cubic", "reno"$/);
    assert.match(errorOf(() => configFromObject({ quic: { maxudppayload: 900 } }, 'q.yaml')), /^q\.yaml: quic\.maxudppayload: /);
  });

  test('forwarding: on-demand bounds, defaults and bad values', () => {
    assert.deepEqual(configFromObject({}).forwarding, { onDemandGraceMs: 10_000, onDemand: { maxPending: 64, maxPendingPerClient: 8, missTtlMs: 3_000 } });
    const c = configFromObject({ forwarding: { ondemandpending: 4, ondemandperclient: 1, ondemandmissttl: 0 } });
    assert.deepEqual(c.forwarding.onDemand, { maxPending: 4, maxPendingPerClient: 1, missTtlMs: 0 });
    assert.match(errorOf(() => configFromObject({ forwarding: { ondemandperclient: 0 } }, 'f.yaml')), /^f\.yaml: forwarding\.ondemandperclient: /);
    assert.match(errorOf(() => configFromObject({ forwarding: { ondemandpending: 'many' } }, 'f.yaml')), /^f\.yaml: forwarding\.ondemandpending: /);
    assert.match(errorOf(() => configFromObject({ forwarding: { ondemandmissttl: -1 } }, 'f.yaml')), /^f\.yaml: forwarding\.ondemandmissttl: /);
  });

  test('denial-of-service bounds: defaults, and a bad value names the key', () => {
    const d = defaultConfig('/x');
    assert.deepEqual(d.rtmp.limits, { maxPendingBytes: 8 * 1024 * 1024, maxPendingTotalBytes: 64 * 1024 * 1024, maxConnectionsPerAddress: 32 });
    assert.deepEqual(d.http.graphql, {
      document: { maxBytes: 65_536, maxTokens: 5_000 },
      ws: { perAddress: 32, initTimeoutMs: 3_000, idleMs: 60_000 },
    });
    const c = configFromObject({ rtmp: { maxpending: 1_048_576, maxpendingtotal: 0, maxperaddress: 4 }, http: { maxquerytokens: 200, wsidle: 0 } });
    assert.deepEqual(c.rtmp.limits, { maxPendingBytes: 1_048_576, maxPendingTotalBytes: 0, maxConnectionsPerAddress: 4 });
    assert.equal(c.http.graphql.document.maxTokens, 200);
    assert.equal(c.http.graphql.ws.idleMs, 0);
    assert.match(errorOf(() => configFromObject({ rtmp: { maxpending: 100 } }, 'd.yaml')), /^d\.yaml: rtmp\.maxpending: /);
    assert.match(errorOf(() => configFromObject({ http: { maxquerybytes: 10 } }, 'd.yaml')), /^d\.yaml: http\.maxquerybytes: /);
    assert.match(errorOf(() => configFromObject({ http: { wsperaddress: -1 } }, 'd.yaml')), /^d\.yaml: http\.wsperaddress: /);
  });

  test('metrics: defaults, a listener of its own, and bad values name the key', () => {
    assert.deepEqual(defaultConfig('/x').metrics, { listen: null, maxStreamLabels: 100 });
    assert.deepEqual(configFromObject({ metrics: { listenaddr: '127.0.0.1:9464', maxstreamlabels: 0 } }).metrics, {
      listen: { host: '127.0.0.1', port: 9464 },
      maxStreamLabels: 0,
    });
    assert.match(errorOf(() => configFromObject({ metrics: { maxstreamlabels: -1 } }, 'm.yaml')), /^m\.yaml: metrics\.maxstreamlabels: /);
    assert.match(errorOf(() => configFromObject({ metrics: { maxstreamlabels: 10_001 } }, 'm.yaml')), /^m\.yaml: metrics\.maxstreamlabels: /);
    assert.match(errorOf(() => configFromObject({ metrics: { listenaddr: 'nope' } }, 'm.yaml')), /^m\.yaml: metrics\.listenaddr: /);
    assert.match(errorOf(() => configFromObject({ metrics: { path: '/m' } }, 'm.yaml')), /^m\.yaml: metrics\.path: unknown key$/);
  });

  test('database urls', () => {
    assert.deepEqual(configFromObject({ database: { url: 'pglite://memory' } }).database, { kind: 'pglite', url: 'pglite://memory', dir: null });
    assert.equal(configFromObject({ database: { url: 'postgres://postgres@127.0.0.1:5432/x' } }).database.kind, 'postgres');
  });

  test('bad CIDR names the file, the key path and the value', () => {
    const p = file('bad-cidr.yaml', `cascade-server:\n  relayapi:\n    whitelist: ["10.0.0.0/8", "10.0.0.0/33"]\n`);
    assert.equal(errorOf(() => loadConfigFile(p)), 'bad-cidr.yaml: cascade-server.relayapi.whitelist[1]: "10.0.0.0/33" is not a CIDR');
  });

  test('unknown keys are errors', () => {
    const p = file('unknown.yaml', `cascade-server:\n  autoregistr: false\n`);
    assert.equal(errorOf(() => loadConfigFile(p)), 'unknown.yaml: cascade-server.autoregistr: unknown key');
    assert.match(errorOf(() => configFromObject({ colour: 'red' }, 'x.yaml')), /^x\.yaml: colour: unknown key$/);
  });

  test('bad port, bad type, bad enum', () => {
    assert.match(errorOf(() => configFromObject({ http: { listenaddr: ':70000' } }, 'p.yaml')), /^p\.yaml: http\.listenaddr: ":70000": port 70000 is out of range 0-65535$/);
    assert.match(errorOf(() => configFromObject({ http: { listenaddr: 'nonsense' } }, 'p.yaml')), /^p\.yaml: http\.listenaddr: "nonsense" is not a listen address/);
    assert.match(errorOf(() => configFromObject({ 'cascade-server': { autoregister: 'yes' } }, 'p.yaml')), /^p\.yaml: cascade-server\.autoregister: expected a boolean, got string "yes"$/);
    assert.match(errorOf(() => configFromObject({ log: { level: 'loud' } }, 'p.yaml')), /^p\.yaml: log\.level: expected one of /);
    assert.match(errorOf(() => configFromObject({ 'cascade-client': {} }, 'p.yaml')), /^p\.yaml: cascade-client\.server: is required$/);
    assert.match(errorOf(() => configFromObject({ 'cascade-client': { server: 'h:1', fingerprint: 'md5:00' } }, 'p.yaml')), /cascade-client\.fingerprint: expected "sha256:"/);
  });

  test('cascade-client.servers: several upper nodes, each with its own credentials or the client\'s', () => {
    const fp = `sha256:${'A'.repeat(64)}`;
    const c = configFromObject(
      {
        'cascade-client': {
          secret: 'client-secret-123',
          cafile: 'ca.pem',
          failback: 5_000,
          servers: [
            { server: 'hq-b.example:44944', priority: 2 },
            { server: 'hq-a.example:44944', priority: 1, secret: 'hq-a-secret-1234', fingerprint: fp },
          ],
        },
      },
      'config',
      '/etc/sc',
    ).cascadeClient!;
    assert.deepEqual(c.server, { host: 'hq-a.example', port: 44944 }, 'the preferred one');
    assert.equal(c.failbackMs, 5_000);
    assert.equal(c.probeIntervalMs, 2_000);
    assert.deepEqual(c.servers[0], { server: { host: 'hq-b.example', port: 44944 }, priority: 2, secret: 'client-secret-123', fingerprint: null, caFile: '/etc/sc/ca.pem', trust: 'ca' });
    assert.deepEqual(c.servers[1], { server: { host: 'hq-a.example', port: 44944 }, priority: 1, secret: 'hq-a-secret-1234', fingerprint: fp.toLowerCase(), caFile: null, trust: 'pin' });
    const one = configFromObject({ 'cascade-client': { server: 'h:1' } }).cascadeClient!;
    assert.deepEqual(one.servers, [{ server: { host: 'h', port: 1 }, priority: 1, secret: null, fingerprint: null, caFile: null, trust: 'tofu' }]);
    assert.equal(one.failbackMs, 30_000);
    const bad = (cc: object): string => errorOf(() => configFromObject({ 'cascade-client': cc }, 'p.yaml'));
    assert.equal(bad({ server: 'h:1', servers: [{ server: 'h:2' }] }), 'p.yaml: cascade-client: set server or servers, not both');
    assert.equal(bad({ servers: [] }), 'p.yaml: cascade-client.servers: must list at least one server');
    assert.equal(bad({ servers: [{ server: 'h:1' }, { server: 'h:1', priority: 3 }] }), 'p.yaml: cascade-client.servers[1].server: listed twice');
    assert.equal(bad({ servers: [{ server: 'h:1', fingerprint: fp, cafile: 'x' }] }), 'p.yaml: cascade-client.servers[0]: set fingerprint or cafile, not both');
    assert.equal(bad({ servers: [{ server: 'h:1', weight: 3 }] }), 'p.yaml: cascade-client.servers[0].weight: unknown key');
    assert.equal(bad({ servers: [{ server: 'h:1', priority: -1 }] }), 'p.yaml: cascade-client.servers[0].priority: Too small: expected number to be >=0');
    assert.match(bad({ servers: [{ server: 'h:1', secret: 'short' }] }), /^p\.yaml: cascade-client\.servers\[0\]\.secret: must be at least 12 characters$/);
    assert.match(bad({ server: 'h:1', failback: -1 }), /^p\.yaml: cascade-client\.failback: /);
  });

  test('cascade-client.localaddr: an IP of the server\'s family', () => {
    assert.equal(configFromObject({ 'cascade-client': { server: '127.0.0.1:44944', localaddr: '127.0.0.2' } }).cascadeClient?.localAddress, '127.0.0.2');
    assert.equal(configFromObject({ 'cascade-client': { server: 'hq.example:44944' } }).cascadeClient?.localAddress, null);
    assert.match(errorOf(() => configFromObject({ 'cascade-client': { server: 'h:1', localaddr: 'eth0' } }, 'p.yaml')), /^p\.yaml: cascade-client\.localaddr: expected an IP address of this host/);
    assert.match(errorOf(() => configFromObject({ 'cascade-client': { server: '[::1]:1', localaddr: '127.0.0.2' } }, 'p.yaml')), /^p\.yaml: cascade-client\.localaddr: is IPv4 but server ::1 is IPv6$/);
  });

  test('invalid YAML and missing file say so', () => {
    const p = file('broken.yaml', `cascade-server:\n  quic: [unclosed\n`);
    assert.match(errorOf(() => loadConfigFile(p)), /^broken\.yaml: invalid YAML at line \d+, column \d+: /);
    assert.match(errorOf(() => loadConfigFile(path.join(dir, 'nope.yaml'))), /nope\.yaml: no such file$/);
    assert.match(errorOf(() => loadConfigFile(file('list.yaml', '- a\n- b\n'))), /^list\.yaml: \(top level\): expected a mapping/);
  });

  test('an empty file is the defaults without the server role', () => {
    const c = loadConfigFile(file('empty.yaml', ''));
    assert.equal(c.cascadeServer, null);
    assert.equal(c.http.listen.port, 8080);
  });
});
