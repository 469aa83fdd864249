import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, unique } from './fixtures.js';

const MiB = 1024 * 1024;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The demo, used as a person would. Its screenshot, taken mid-download, is written to
 * `docs/demo.png` when `UPDATE_DEMO_SCREENSHOT=1` (with Background Fetch), and attached to the
 * test's output always.
 */
test('the demo: a URL typed in the box downloads to a completed row, a stored file and log lines', async ({ demoPage: page, server, engine }, testInfo) => {
  const id = unique('demo');
  const size = 12 * MiB;
  // 12 MiB at 4 MB/s: about 3 s, long enough to see it move.
  await page.getByLabel('URL to download').fill(server.url(`/files/12m?seed=${id}&id=${id}&rate=4000000`));
  // With the size given, Background Fetch too can show the progress (it tells no headers before the end).
  await page.getByLabel('countOfBytesClientExpectsToReceive').fill(String(size));
  await page.getByRole('button', { name: 'Download in background' }).click();

  const row = page.locator('#tasks tbody tr').first();
  await expect(row.locator('td.state')).toHaveText('running');
  const taskIdentifier = (await row.getAttribute('data-task'))!;
  const short = taskIdentifier.slice(-6);
  await expect.poll(() => row.locator('progress').evaluate((bar: HTMLProgressElement) => bar.value), { timeout: 30_000 }).toBeGreaterThan(0);
  await expect(row.locator('td.state')).toHaveText('completed', { timeout: 60_000 });
  await expect(row.locator('.percent')).toHaveText('100 %');
  await expect(row.locator('td.bytes')).toHaveText('12.0 MiB / 12.0 MiB');
  await expect(row.getByRole('button', { name: 'Cancel' })).toBeDisabled();

  const name = `${short}-12m`;
  // The demo asks each file's digest (location.digestFor) and shows it.
  const sri = `sha256-${Buffer.from(await server.sha256(id, '12m'), 'hex').toString('base64')}`;
  await expect(page.locator('#files li')).toHaveText([`${name} (12.0 MiB, application/octet-stream, ${sri.slice(0, 14)}…) Save Delete`]);
  const log = page.locator('#log');
  await expect(log).toContainText(`resume() #${short}: ${server.url('/files/12m')}`);
  await expect(log).toContainText(`didFinishDownloadingTo #${short}: ${size} bytes, ${sri}, kept as "${name}"`);
  await expect(log).toContainText(`didCompleteWithError #${short}: null`);
  await expect(log).toContainText('didFinishEvents (session "demo")');
  const sha256 = await page.evaluate(async (name) => {
    const blob = (await globalThis.bgdl.documents.get(name))!;
    const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, name);
  expect(sha256).toBe(await server.sha256(id, '12m'));

  // A second, slower download, seen mid-way (the screenshot), then cancelled with its button.
  const slow = unique('demo-slow');
  await page.getByLabel('URL to download').fill(server.url(`/files/48m?seed=${slow}&id=${slow}&rate=2000000`));
  await page.getByLabel('countOfBytesClientExpectsToReceive').fill(String(48 * MiB));
  await page.getByRole('button', { name: 'Download in background' }).click();
  const second = page.locator('#tasks tbody tr').nth(1);
  await expect.poll(() => second.locator('progress').evaluate((bar: HTMLProgressElement) => bar.value), { timeout: 30_000 }).toBeGreaterThan(0.08);
  await expect(second.locator('td.speed')).toHaveText(/\/s$/);
  await expect(second.locator('td.eta')).toHaveText(/ s$/);
  await page.locator('#debug-refresh').click();
  await expect(page.locator('#debug')).toContainText('session "demo"');
  const screenshot = testInfo.outputPath('demo.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  await testInfo.attach('demo', { path: screenshot, contentType: 'image/png' });
  if (process.env.UPDATE_DEMO_SCREENSHOT && engine === 'background-fetch') {
    await mkdir(path.join(ROOT, 'docs'), { recursive: true });
    await copyFile(screenshot, path.join(ROOT, 'docs/demo.png'));
  }

  await second.getByRole('button', { name: 'Cancel' }).click();
  await expect(second.locator('td.state')).toHaveText('completed (cancelled)', { timeout: 30_000 });
  const slowShort = (await second.getAttribute('data-task'))!.slice(-6);
  await expect(log).toContainText(`didCompleteWithError #${slowShort}: URLError cancelled`);
  await expect(page.locator('#files li')).toHaveCount(1);
});

test('bgdl.help() prints the article’s examples for this version of the library, and they run', async ({ demoPage: page, server }) => {
  const messages: string[] = [];
  page.on('console', (message) => messages.push(message.text()));
  await page.evaluate(() => globalThis.bgdl.help());
  await expect.poll(() => messages.length).toBeGreaterThan(0);
  const help = messages[0]!;
  expect(help).toContain("const config = bgdl.URLSessionConfiguration.background('MySession')");
  expect(help).toContain('new bgdl.URLSession(config, {');
  expect(help).toContain('backgroundTask.resume()');
  expect(help).toContain('await urlSession.getAllTasks()');
  expect(help).toContain('await bgdl.documents.list()');
  expect(help).toContain('backgroundTask.earliestBeginDate = new Date(');
  expect(help).toContain('backgroundTask.suspend()');
  expect(help).toContain('await urlSession.debugState()');
  expect(help).toContain('willBeginDelayedRequest(session, task, request)');
  expect(help).toContain("await location.digestFor('sha256')");

  // The examples, as typed in the console (with a small file of the test server), do what they say.
  const id = unique('help');
  const code = help
    .slice(help.indexOf('// Configure the background session'), help.indexOf('// More'))
    .replace(/'http[^']*\/files\/20m\?rate=2000000'/, `'${server.url(`/files/2m?seed=${id}&id=${id}`)}'`)
    // The article's example begins an hour later; two seconds will do to see it wait.
    .replace('Date.now() + 60 * 60 * 1000', 'Date.now() + 2000');
  expect(code).toContain(`/files/2m?seed=${id}`);
  expect(code).toContain('Date.now() + 2000');
  const typedAt = Date.now();
  await page.evaluate((code) => new Function(`return (async () => {\n${code}\n})()`)(), code);
  await expect.poll(() => messages.some((text) => text === 'every event delivered'), { timeout: 60_000 }).toBe(true);
  expect(messages.some((text) => /^completed \d+ ok$/.test(text))).toBe(true);
  expect(messages).toContain('requests 1');
  expect(messages).toContain(`sha256-${Buffer.from(await server.sha256(id, '2m'), 'hex').toString('base64')}`);
  expect(await page.evaluate(async () => (await globalThis.bgdl.documents.list()).map(({ name }) => name))).toEqual(['report.bin']);
  const stats = await server.stats(id);
  expect(stats.completed).toBe(1);
  expect(stats.log[0]!.t).toBeGreaterThanOrEqual(typedAt + 2000);
});

test('on a phone (390 px wide) the page does not scroll sideways, and a task shows its state, progress and buttons', async ({ demoPage: page, server }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  const id = unique('phone');
  // 8 MiB at 1 MB/s: running for the whole check.
  await page.getByLabel('URL to download').fill(server.url(`/files/8m?seed=${id}&id=${id}&rate=1000000`));
  await page.getByLabel('countOfBytesClientExpectsToReceive').fill(String(8 * MiB));
  await page.getByRole('button', { name: 'Download in background' }).click();
  const row = page.locator('#tasks tbody tr').first();
  await expect(row.locator('td.state')).toHaveText('running');

  const { scrollWidth, width } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: innerWidth }));
  expect(scrollWidth).toBeLessThanOrEqual(width);
  // Scrolled down to the task only (never sideways), so what is cut off on the right stays out of view.
  await row.evaluate((element) => scrollTo({ left: 0, top: element.getBoundingClientRect().top + scrollY - 100, behavior: 'instant' }));
  for (const part of [
    row.locator('td.state'),
    row.locator('progress'),
    row.locator('.percent'),
    ...['Pause', 'Resume', 'Cancel'].map((name) => row.getByRole('button', { name })),
  ]) {
    await expect(part).toBeVisible();
    await expect(part).toBeInViewport({ ratio: 1 });
  }

  // Wider, as a tablet or a laptop: cards or the table, neither wider than the page.
  for (const width of [768, 1024, 1280]) {
    await page.setViewportSize({ width, height: 844 });
    const overflow = await page.evaluate(() => {
      const table = document.querySelector('#tasks')!;
      return {
        page: document.documentElement.scrollWidth - innerWidth,
        table: table.getBoundingClientRect().right - table.parentElement!.getBoundingClientRect().right,
      };
    });
    expect(overflow.page, `the page at ${width} px`).toBeLessThanOrEqual(0);
    expect(overflow.table, `the table at ${width} px`).toBeLessThanOrEqual(0.5);
  }

  await row.getByRole('button', { name: 'Cancel' }).click();
  await expect(row.locator('td.state')).toHaveText('completed (cancelled)', { timeout: 30_000 });
});

test('the demo installs as an app: Chromium finds its manifest with no error and no installability error, and each icon is a PNG of its size', async ({
  demoPage: page,
}) => {
  const cdp = await page.context().newCDPSession(page);
  const { url, errors, data } = await cdp.send('Page.getAppManifest');
  expect(url).toMatch(/\/manifest\.webmanifest$/);
  expect(errors).toEqual([]);
  expect((await cdp.send('Page.getInstallabilityErrors')).installabilityErrors).toEqual([]);

  const manifest = JSON.parse(data!) as {
    display: string;
    start_url: string;
    scope: string;
    icons: { src: string; sizes: string; type: string; purpose?: string }[];
  };
  expect(manifest).toMatchObject({ display: 'standalone', start_url: './', scope: './' });
  expect(manifest.icons.filter((icon) => icon.purpose === 'maskable').map((icon) => icon.sizes)).toEqual(['512x512']);
  for (const icon of manifest.icons.filter((icon) => icon.type === 'image/png')) {
    const size = await page.evaluate(async (src) => {
      const response = await fetch(new URL(src, new URL('manifest.webmanifest', location.href)));
      const bitmap = await createImageBitmap(await response.blob());
      return `${bitmap.width}x${bitmap.height} ${response.headers.get('Content-Type')}`;
    }, icon.src);
    expect(size, icon.src).toBe(`${icon.sizes} image/png`);
  }
});

test('the debug panel keeps itself current: a task made in the console shows up in it, then goes, with no click on Refresh', async ({
  demoPage: page,
  server,
}) => {
  const id = unique('debug');
  const taskIdentifier = await page.evaluate(
    (url) => {
      const task = globalThis.bgdl.session.downloadTask(url);
      // Waiting for its begin date the task sends no delegate event: only the panel's own refresh can show it.
      task.earliestBeginDate = new Date(Date.now() + 10 * 60_000);
      task.resume();
      return task.taskIdentifier;
    },
    server.url(`/files/1m?seed=${id}&id=${id}`),
  );
  const debug = page.locator('#debug');
  await expect(debug).toContainText(`"taskIdentifier": ${taskIdentifier},`, { timeout: 10_000 });

  await page.evaluate(async (taskIdentifier) => {
    const tasks = await globalThis.bgdl.session.getAllTasks();
    tasks.find((task) => task.taskIdentifier === taskIdentifier)!.cancel();
  }, taskIdentifier);
  await expect(debug).not.toContainText(`"taskIdentifier": ${taskIdentifier},`, { timeout: 10_000 });
  await expect(debug).toContainText('session "demo"');
});
