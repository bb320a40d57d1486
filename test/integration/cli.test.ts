import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { rest } from '../helpers/node.js';
import { runProgram, startProcessNode, writeConfig } from '../helpers/process-node.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const dir = tempDir('sc-cli-');
after(() => removeDir(dir));

describe('the program', () => {
  test('a bad config file exits non-zero with one line naming file, key and problem', async () => {
    const cases: [string, string, RegExp][] = [
      ['cidr.yaml', 'cascade-server:\n  relayapi:\n    whitelist: ["10.0.0.0/8", "10.0.0.0/33"]\n', /^stream-cascade: cidr\.yaml: cascade-server\.relayapi\.whitelist\[1\]: "10\.0\.0\.0\/33" is not a CIDR$/],
      ['unknown.yaml', 'htp:\n  listenaddr: ":80"\n', /^stream-cascade: unknown\.yaml: htp: unknown key$/],
      ['port.yaml', 'http:\n  listenaddr: ":99999"\n', /^stream-cascade: port\.yaml: http\.listenaddr: ":99999": port 99999 is out of range 0-65535$/],
      ['yaml.yaml', 'http: [\n', /^stream-cascade: yaml\.yaml: invalid YAML/],
    ];
    for (const [name, text, expected] of cases) {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      const r = await runProgram(['--config', file]);
      assert.equal(r.code, 2, `${name}: exit code`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${name}: one line, got ${r.stderr}`);
      assert.match(lines[0]!, expected);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const missing = await runProgram(['--config', path.join(dir, 'absent.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /absent\.yaml: no such file\n$/);
  });

  test('runs from a YAML file, stops cleanly on SIGTERM and SIGINT, and keeps its data', async () => {
    const cfg = writeConfig(path.join(dir, 'node.yaml'), {
      name: 'cli-node',
      datadir: path.join(dir, 'data'),
      http: { listenaddr: '127.0.0.1:0' },
      rtmp: { listenaddr: '127.0.0.1:0' },
      'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } },
    });
    const first = await startProcessNode(cfg);
    try {
      const r = await rest({ url: first.httpUrl }, 'POST', '/api/cascade/clients', { name: 'kept', secret: 'kept-secret-padded-key' });
      assert.equal(r.status, 200);
    } finally {
      assert.equal(await first.stop('SIGTERM'), 0, 'exit 0 on SIGTERM');
    }
    assert.ok(first.lines.some((l) => l.msg === 'node stopped'));
    const second = await startProcessNode(cfg);
    try {
      const r = await rest({ url: second.httpUrl }, 'GET', '/api/cascade/clients');
      assert.deepEqual((r.json.data as { name: string }[]).map((c) => c.name), ['kept']);
    } finally {
      assert.equal(await second.stop('SIGINT'), 0, 'exit 0 on SIGINT');
    }
  });

  test('two nodes on one datadir: the second refuses with a clear message', async () => {
    const cfg = writeConfig(path.join(dir, 'lock.yaml'), {
      datadir: path.join(dir, 'lockdata'),
      http: { listenaddr: '127.0.0.1:0' },
      rtmp: { listenaddr: '127.0.0.1:0' },
    });
    const first = await startProcessNode(cfg);
    try {
      const r = await runProgram(['--config', cfg]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /database directory .* is in use by process \d+/);
    } finally {
      await first.stop();
    }
  });

  test('--help and --version', async () => {
    const h = await runProgram(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /usage: stream-cascade/);
    const v = await runProgram(['--version']);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
