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
import { parseSize } from '../e2e/server/server.mjs';
import { openDemoPage } from './demoPage.mjs';

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

const { context, page, close } = await openDemoPage('buckets', Number(process.env.BUCKET_PORT ?? 8770));
try {
  if (!(await page.evaluate(() => 'storageBuckets' in navigator))) throw new Error('This Chromium has no navigator.storageBuckets');
  /** @type {{ written: number[], deleted: number[] }} */
  const none = { written: [], deleted: [] };
  /** @type {Record<string, typeof none>} */
  const times = { default: { written: [], deleted: [] }, bucket: { written: [], deleted: [] } };
  const of = (/** @type {string} */ where) => times[where] ?? none;
  let about = null;
  for (let run = 0; run < RUNS; run++) {
    // In turns, the first of each pair alternating: neither gets the warmer disk every time.
    for (const where of run % 2 === 0 ? ['default', 'bucket'] : ['bucket', 'default']) {
      const result = await page.evaluate(writeParts, { where, bytes: BYTES });
      of(where).written.push(result.written);
      of(where).deleted.push(result.deleted);
      about ??= result.about;
    }
  }
  const row = (/** @type {string} */ where) => {
    const ms = median(of(where).written);
    return `${where.padEnd(8)} write ${ms.toFixed(0).padStart(6)} ms (${((BYTES / MiB / ms) * 1000).toFixed(0)} MiB/s)  delete ${median(of(where).deleted).toFixed(0).padStart(5)} ms`;
  };
  console.log(`${SIZE} in parts of 8 MiB, Cache Storage, medians of ${RUNS} (Chromium ${context.browser()?.version() ?? ''})`);
  console.log(row('default'));
  console.log(row('bucket'));
  console.log(`bucket/default, write: ${(median(of('bucket').written) / median(of('default').written)).toFixed(2)}`);
  console.log(`the bucket: ${JSON.stringify(about)}`);
} finally {
  await close();
}
