/**
 * GraphiQL is served by the node itself (no CDN): in headless Chromium, with the
 * network closed except for the node, the page renders and a query run in it
 * shows the node's data.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import { startNode, type TestNode } from '../helpers/node.js';
import { CHROMIUM_PATH, requireChromium } from '../helpers/requirements.js';
import { artifactPath } from '../helpers/tmp.js';

const gate = requireChromium();

describe('GraphiQL in Chromium', gate, () => {
  let node: TestNode;
  let browser: Browser;
  before(async () => {
    node = await startNode({ name: 'graphiql-node' });
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      timeout: 30_000,
    }); // playwright gives each launch a fresh temporary profile
  });
  after(async () => {
    await browser?.close();
    await node?.stop();
  });

  test('renders from local assets and runs a query', async () => {
    const page = await browser.newPage();
    const foreign: string[] = [];
    // Any request that leaves the node fails the test: the page must not need a CDN.
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith(node.url) || u.startsWith('blob:') || u.startsWith('data:')) return route.continue();
      foreign.push(u);
      return route.abort();
    });
    const query = '{ node { name roles } }';
    await page.goto(`${node.url}/graphql?query=${encodeURIComponent(query)}`, { waitUntil: 'load', timeout: 30_000 });
    const run = page.locator('.graphiql-execute-button');
    await run.waitFor({ state: 'visible', timeout: 30_000 });
    await run.click();
    await page.waitForFunction(() => document.body.innerText.includes('graphiql-node'), undefined, { timeout: 30_000 });
    const text = (await page.locator('.graphiql-response').innerText()).replace(/\s+/g, ' ');
    assert.match(text, /"name": "graphiql-node"/);
    assert.match(text, /CASCADE_SERVER|MEDIA/);
    // Kept for a look after the run (.tmp/ is git-ignored).
    await page.screenshot({ path: artifactPath('graphiql.png') });
    assert.deepEqual(foreign, [], 'no request left the node');
    await page.close();
  });
});
