import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pullRulesSuite } from './forwarding-rules-suite.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sc-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));
pullRulesSuite('PGlite', async () => `pglite://${path.join(dir, 'db')}`);
