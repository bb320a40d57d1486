import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { isValidPullUrl, isValidStreamPath } from '../../dataplane/media/stream-path.js';
import { ConfigError, configFromObject } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { AppError } from '../../src/errors.js';
import { PullRuleService } from '../../src/services/pull-rule.service.js';

const ACCEPTED = ['live/cam', 'live/camera1', 'a/b/c/d/e/f/g/h', 'live/~cam', 'live/cam.hd', 'Live_1/cam-2', '_x/y', 'live/cam..1'];
const REFUSED = ['', 'live', 'live/', '/live/cam', 'live//cam', 'live/.', 'live/..', 'live/.hidden', 'a/b/c/d/e/f/g/h/i', 'live/cam 1', 'live/cäm', 'live/cam?x', `live/${'x'.repeat(256)}`];

/** Whether a YAML pull rule with this path (as `streampath` and in `pullurl`) loads. */
function configAccepts(path: string): boolean {
  try {
    configFromObject({ 'cascade-client': { server: '127.0.0.1:44944', secret: 'a-secret-padded', pull: [{ streampath: path, pullurl: `cascade://${path}` }] } }, 'rules.yaml');
    return true;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    assert.match(err.message, /rules\.yaml/);
    assert.match(err.message, /streampath|pullurl/);
    return false;
  }
}

describe('one stream-path rule', () => {
  let db: Database;
  let rules: PullRuleService;
  before(async () => {
    db = await openDatabase({ kind: 'pglite', url: 'pglite://memory', dir: null }, pino({ level: 'silent' }));
    rules = new PullRuleService(db, [], () => {});
    await rules.load();
  });
  after(async () => {
    await db.close();
  });

  /** Whether the pull-rule API takes a rule with this path (as streamPath and in pullUrl). */
  async function serviceAccepts(path: string): Promise<boolean> {
    try {
      await rules.add(path, `cascade://${path}`);
      await rules.remove(path);
      return true;
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'VALIDATION') throw err;
      return false;
    }
  }

  test('the config loader and the pull-rule service accept and refuse the same paths', async () => {
    for (const p of ACCEPTED) {
      assert.equal(isValidStreamPath(p), true, p);
      assert.equal(configAccepts(p), true, `config: ${p}`);
      assert.equal(await serviceAccepts(p), true, `service: ${p}`);
    }
    for (const p of REFUSED) {
      assert.equal(isValidStreamPath(p), false, p);
      assert.equal(configAccepts(p), false, `config: ${p}`);
      assert.equal(await serviceAccepts(p), false, `service: ${p}`);
    }
  });

  test('on random paths the config loader and the service agree with the rule', async () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_.~\-/ ]{0,12}$/);
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 10 }), async (parts) => {
        const p = parts.join('/');
        const ok = isValidStreamPath(p);
        assert.equal(configAccepts(p), ok, `config: ${p}`);
        assert.equal(await serviceAccepts(p), ok, `service: ${p}`);
      }),
      { numRuns: 150 },
    );
  });

  test('a pull URL is cascade:// and a valid path', () => {
    assert.equal(isValidPullUrl('cascade://live/cam'), true);
    for (const bad of ['live/cam', 'cascade:/live/cam', 'http://live/cam', 'cascade://live', 'cascade://live/..', 'CASCADE://live/cam']) {
      assert.equal(isValidPullUrl(bad), false, bad);
    }
  });
});
