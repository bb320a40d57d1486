import { after } from 'node:test';
import path from 'node:path';
import { pullRulesSuite } from './forwarding-rules-suite.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const dir = tempDir('sc-rules-');
after(() => removeDir(dir));
pullRulesSuite('PGlite', async () => `pglite://${path.join(dir, 'db')}`);
