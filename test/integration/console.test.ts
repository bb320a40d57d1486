/**
 * The operator console in headless Chromium against a real tree: HQ (in-process) ←
 * region (a process, to be killed) ← edge (in-process) with ffmpeg publishing at the
 * edge. The page shows the tree, plays the edge's stream at HQ through the cascade,
 * creates and deletes a client, adds and removes a pull rule on the region, and marks
 * the region offline within 5 s of its kill -9, asks for the admin token where one is
 * set, with no console error and no request leaving the node. Screenshots of the views
 * go to .tmp/ (git-ignored), or to docs/images/ with STREAM_CASCADE_SCREENSHOTS=docs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { publishTestStream, type Publisher } from '../helpers/ffmpeg.js';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';
import { ROOT, startProcessNode, writeNodeConfig, type ProcessNode } from '../helpers/process-node.js';
import { CHROMIUM_PATH, requireChromium, requireFfmpeg } from '../helpers/requirements.js';
import { artifactPath, removeDir, tempDir } from '../helpers/tmp.js';
import { rtmpUrl, startHq, waitOnline } from './forwarding-helpers.js';

const chromiumGate = requireChromium();
const gate = chromiumGate.skip ? chromiumGate : requireFfmpeg();
const STREAM = 'live/console';
const TOKEN = 'console-test-admin-token';

function screenshotPath(name: string): string {
  return process.env.STREAM_CASCADE_SCREENSHOTS === 'docs' ? path.join(ROOT, 'docs/images', name) : artifactPath(name);
}

/** Opens a page on `url` that fails the test on any console error or request to another origin. */
async function openConsole(browser: Browser, url: string, problems: string[], width = 1280): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 800 } });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const origin = new URL(url).origin;
  const wsOrigin = origin.replace(/^http/, 'ws');
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith(wsOrigin) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    problems.push(`request left the node: ${u}`);
    return route.abort();
  });
  await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
  return page;
}

describe('operator console in Chromium', gate, () => {
  const tmp = tempDir('sc-console-');
  const problems: string[] = [];
  let hq: TestNode;
  let edge: TestNode;
  let guarded: TestNode;
  let region: ProcessNode;
  let ff: Publisher;
  let browser: Browser;
  let page: Page;

  before(async () => {
    hq = await startHq('console-hq');
    region = await startProcessNode(
      writeNodeConfig(tmp, 'console-region', {
        'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } },
        'cascade-client': { server: `127.0.0.1:${hq.app.addresses.quic!.port}` },
      }),
    );
    const quic = await region.waitLog((l) => l.msg === 'cascade server listening (QUIC)');
    const regionQuic = String(quic.address);
    [edge, guarded, browser] = await Promise.all([
      startNode({ name: 'console-edge', 'cascade-client': { server: regionQuic } }),
      startNode({ name: 'console-guarded', http: { listenaddr: '127.0.0.1:0', token: TOKEN }, 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } }),
      chromium.launch({
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
        timeout: 30_000,
      }),
    ]);
    await waitOnline(edge);
    ff = publishTestStream(rtmpUrl(edge, STREAM), 120);
    // The edge announces its stream to the region, the region its subtree to HQ.
    await waitFor(async () => JSON.stringify(await hq.app.services.forwarding.topology()).includes(STREAM), 30_000, 'edge stream in HQ topology');
    page = await openConsole(browser, hq.url, problems);
  });
  after(async () => {
    await browser?.close();
    await ff?.stop();
    await edge?.stop();
    await guarded?.stop();
    await region?.stop('SIGKILL');
    await hq?.stop();
    removeDir(tmp);
  });

  test('shows the tree with state, version and stream counts', async () => {
    for (const name of ['console-hq', 'console-region', 'console-edge']) {
      await page.locator(`[data-node="${name}"][data-online="true"]`).waitFor({ timeout: 15_000 });
    }
    const regionRow = await page.locator('[data-node="console-region"]').innerText();
    assert.match(regionRow, /online/);
    assert.match(regionRow, /version 0\.\d+\.\d+/, 'a direct lower node shows its version');
    assert.match(regionRow, /RTT \d/, 'and its RTT');
    assert.match(await page.locator('[data-node="console-edge"]').innerText(), /1 stream/);
    await page.screenshot({ path: screenshotPath('console-topology.png') });
  });

  test("Play on the edge's stream plays it at HQ through the cascade", async () => {
    await page.getByRole('button', { name: 'Streams of console-edge' }).click();
    await page.getByRole('button', { name: `Play ${STREAM}` }).click();
    const video = page.locator(`video[data-player="${STREAM}"]`);
    const currentTime = (): Promise<number> => video.evaluate((v: HTMLVideoElement) => v.currentTime);
    await page.waitForFunction((p) => ((document.querySelector(`video[data-player="${p}"]`) as HTMLVideoElement | null)?.currentTime ?? 0) > 0, STREAM, {
      timeout: 30_000,
    });
    const t0 = await currentTime();
    await page.waitForTimeout(3_000);
    const t1 = await currentTime();
    assert.ok(t1 - t0 > 1.5, `currentTime grows over 3 s (${t0.toFixed(2)} → ${t1.toFixed(2)})`);
    // HQ now has the stream (pulled on demand): its row shows the codecs and the chain.
    await page.getByRole('combobox', { name: 'Node' }).selectOption('console-hq');
    const row = page.locator(`tr[data-stream="${STREAM}"]`);
    await row.getByText('h264').waitFor({ timeout: 10_000 });
    assert.match(await row.innerText(), /console-edge → console-region → here/);
    await page.screenshot({ path: screenshotPath('console-streams.png'), fullPage: true });
    await page.getByRole('button', { name: 'Close player' }).click();
  });

  test('creates a client (secret shown once) and deletes it', async () => {
    await page.getByRole('link', { name: 'Clients' }).click();
    await page.locator('tr[data-client="console-region"][data-online="true"]').waitFor({ timeout: 10_000 });
    // By keyboard: the form submits with Enter.
    await page.getByLabel('Name').fill('made-in-console');
    await page.getByLabel('Name').press('Enter');
    const secret = await page.locator('[data-secret-for="made-in-console"] .secret-value').innerText({ timeout: 10_000 });
    assert.match(secret, /^[A-Za-z0-9_-]{32}$/);
    await page.locator('tr[data-client="made-in-console"]').waitFor({ timeout: 10_000 });
    assert.ok((await hq.app.services.clients.list()).some((c) => c.name === 'made-in-console'));
    await page.screenshot({ path: screenshotPath('console-clients.png') });
    await page.getByRole('button', { name: 'Rotate the secret of made-in-console' }).click();
    await waitFor(async () => {
      const next = await page.locator('[data-secret-for="made-in-console"] .secret-value').innerText();
      return next !== secret && /^[A-Za-z0-9_-]{32}$/.test(next);
    }, 10_000, 'a new secret shown');
    // A refusal is shown as the API words it.
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByLabel('Name').fill('made-in-console');
    await page.getByRole('button', { name: 'Create client' }).click();
    const refusal = await page.locator('p.error[role="alert"]').innerText({ timeout: 10_000 });
    assert.match(refusal, /already exists/, `the API's reason (${refusal})`);
    await page.getByRole('button', { name: 'Delete made-in-console' }).click();
    await page.getByRole('button', { name: 'Confirm: delete made-in-console' }).click();
    await page.locator('tr[data-client="made-in-console"]').waitFor({ state: 'detached', timeout: 10_000 });
    assert.ok(!(await hq.app.services.clients.list()).some((c) => c.name === 'made-in-console'));
  });

  test("adds and removes a pull rule on the region's console, at phone width", async () => {
    const regionPage = await openConsole(browser, `${region.httpUrl}/#/pull-rules`, problems, 390);
    await regionPage.getByLabel('Stream path').fill('live/from-hq');
    await regionPage.getByRole('button', { name: 'Add rule' }).click();
    await regionPage.locator('tr[data-rule="live/from-hq"]').waitFor({ timeout: 10_000 });
    assert.match(await regionPage.locator('tr[data-rule="live/from-hq"]').innerText(), /cascade:\/\/live\/from-hq/);
    await regionPage.locator('[data-socket="live"]').waitFor({ timeout: 10_000 });
    await regionPage.screenshot({ path: screenshotPath('console-pull-rules-phone.png') });
    await regionPage.getByRole('button', { name: 'Remove the rule for live/from-hq' }).click();
    await regionPage.locator('tr[data-rule="live/from-hq"]').waitFor({ state: 'detached', timeout: 10_000 });
    await regionPage.close();
  });

  test('a killed lower node turns offline on screen within 5 s, without reload', async () => {
    await page.getByRole('link', { name: 'Topology' }).click();
    await page.locator('[data-node="console-region"][data-online="true"]').waitFor({ timeout: 10_000 });
    const loads: string[] = [];
    page.on('load', () => loads.push(page.url()));
    const killedAt = Date.now();
    region.child.kill('SIGKILL');
    await page.locator('[data-node="console-region"][data-online="false"]').waitFor({ timeout: 5_000 });
    const tookMs = Date.now() - killedAt;
    assert.ok(tookMs < 5_000, `offline on screen after ${tookMs} ms`);
    assert.deepEqual(loads, [], 'no reload');
    await region.exited;
  });

  test('with http.token the console asks for the token and keeps it for the tab only', async () => {
    const tab = await openConsole(browser, `${guarded.url}/#/clients`, problems);
    await tab.getByLabel('Token', { exact: true }).fill(TOKEN);
    await tab.getByRole('button', { name: 'Use token' }).click();
    // Subscriptions and changes need the token: the socket goes live and a client can be made.
    await tab.locator('[data-socket="live"]').waitFor({ timeout: 10_000 });
    await tab.getByLabel('Name').fill('guarded-made');
    await tab.getByRole('button', { name: 'Create client' }).click();
    await tab.locator('tr[data-client="guarded-made"]').waitFor({ timeout: 10_000 });
    assert.equal(await tab.evaluate(() => sessionStorage.getItem('stream-cascade.token')), TOKEN);
    assert.equal(await tab.evaluate(() => localStorage.length), 0, 'nothing kept beyond the tab');
    await tab.close();
    // Another tab has no token: it asks again.
    const other = await openConsole(browser, guarded.url, problems);
    await other.getByLabel('Token', { exact: true }).waitFor({ timeout: 10_000 });
    await other.close();
  });

  test('the page logged no error and asked nothing of another host', () => {
    assert.deepEqual(problems, []);
  });
});
