// @ts-check
/**
 * `node bench/buckets.mjs`: whether a Storage Bucket of the library's own would help it
 * (issue: the last mile). The library writes a file as parts of 8 MiB in Cache Storage; this
 * writes the same parts, and deletes them, in the origin's default bucket and in a bucket
 * opened with `{ persisted: true, durability: 'relaxed' }`, side by side in one Chromium, in
 * turns, and prints the medians, their ratio, and what the bucket says of itself (persisted,
 * durability, quota). Run `npm run build` first (the page is the demo's).
 *
 * Env: BUCKET_SIZE (default `256m`), BUCKET_RUNS (default 5), BUCKET_PORT (default 8770).
 */
import { chromium } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSize, startServer } from '../e2e/server/server.mjs';
import { CHROMIUM_PATH, chromiumArgs } from '../scripts/chromium.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 ** 2;
const SIZE = process.env.BUCKET_SIZE ?? '256m';
const RUNS = Number(process.env.BUCKET_RUNS ?? 5);
const BYTES = /** @type {number} */ (parseSize(SIZE));

/** In the page: writes `bytes` as parts of 8 MiB in `where`'s Cache Storage, then deletes them; the ms of each. */
async function writeParts(/** @type {{ where: string, bytes: number }} */ { where, bytes }) {
  const PART = 8 * 1024 * 1024;
  const part = new Uint8Array(PART);
  for (let i = 0; i < PART; i += 65536) crypto.getRandomValues(part.subarray(i, i + 65536));
  /** @type {any} */
  const buckets = /** @type {any} */ (navigator).storageBuckets;
  const bucket = where === 'bucket' ? await buckets.open('bgdl-bench', { persisted: true, durability: 'relaxed' }) : null;
  const caches_ = bucket ? bucket.caches : caches;
  const cache = await caches_.open('parts');
  const t0 = performance.now();
  for (let at = 0, index = 0; at < bytes; at += PART, index++) await cache.put(`/part/${index}`, new Response(part.subarray(0, Math.min(PART, bytes - at))));
  const written = performance.now() - t0;
  const t1 = performance.now();
  await caches_.delete('parts');
  const deleted = performance.now() - t1;
  const about = bucket ? { persisted: await bucket.persisted(), durability: await bucket.durability?.(), quota: (await bucket.estimate()).quota } : null;
  return { written, deleted, about };
}

const median = (/** @type {number[]} */ values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

const server = await startServer({ port: Number(process.env.BUCKET_PORT ?? 8770), host: '127.0.0.1', staticDir: path.join(ROOT, 'dist/demo') });
const profile = await mkdtemp(path.join(tmpdir(), 'bgdl-buckets-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM_PATH,
  headless: true,
  args: chromiumArgs({ backgroundFetch: false }),
});
try {
  const page = await context.newPage();
  await page.goto(server.url);
  if (!(await page.evaluate(() => 'storageBuckets' in navigator))) throw new Error('This Chromium has no navigator.storageBuckets');
  /** @type {Record<string, { written: number[], deleted: number[] }>} */
  const times = { default: { written: [], deleted: [] }, bucket: { written: [], deleted: [] } };
  let about = null;
  for (let run = 0; run < RUNS; run++) {
    // In turns, the first of each pair alternating: neither gets the warmer disk every time.
    for (const where of run % 2 === 0 ? ['default', 'bucket'] : ['bucket', 'default']) {
      const result = await page.evaluate(writeParts, { where, bytes: BYTES });
      times[where].written.push(result.written);
      times[where].deleted.push(result.deleted);
      about ??= result.about;
    }
  }
  const row = (/** @type {string} */ where) => {
    const ms = median(times[where].written);
    return `${where.padEnd(8)} write ${ms.toFixed(0).padStart(6)} ms (${((BYTES / MiB / ms) * 1000).toFixed(0)} MiB/s)  delete ${median(times[where].deleted).toFixed(0).padStart(5)} ms`;
  };
  console.log(`${SIZE} in parts of 8 MiB, Cache Storage, medians of ${RUNS} (Chromium ${context.browser()?.version() ?? ''})`);
  console.log(row('default'));
  console.log(row('bucket'));
  console.log(`bucket/default, write: ${(median(times.bucket.written) / median(times.default.written)).toFixed(2)}`);
  console.log(`the bucket: ${JSON.stringify(about)}`);
} finally {
  await context.close();
  await server.close();
  await rm(profile, { recursive: true, force: true });
}
