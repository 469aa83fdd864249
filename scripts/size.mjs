// @ts-check
/**
 * `npm run size [-- --check]`: what the library costs an app. Bundles the built page entry
 * (`bgdl`, dist/index.js) and worker entry (`bgdl/sw`, dist/sw.js) the way an app's bundler
 * would, with their dependencies (idb, comlink, workbox-window) included and minified, and
 * prints each bundle's minified and minified+gzipped (level 9) size against its budget.
 * Exits 0 either way, unless `--check` is given: then 1 when a budget is exceeded.
 * Measures the build in dist/: run `npm run build` first.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KiB = 1024;

/** @type {{ name: string; entry: string; budget: number | null }[]} */
const bundles = [
  { name: 'page (bgdl)', entry: 'dist/index.js', budget: 6 * KiB },
  { name: 'worker (bgdl/sw)', entry: 'dist/sw.js', budget: null },
];

/** @param {number} bytes */
const kib = (bytes) => `${(bytes / KiB).toFixed(2)} KiB`;

/**
 * Bundles one entry with everything it imports, minified, into a temporary directory.
 * @param {string} entry
 * @returns {Promise<Buffer>} the bundle (one file: the entries have no dynamic imports)
 */
async function bundle(entry) {
  const outDir = await mkdtemp(path.join(tmpdir(), 'bgdl-size-'));
  try {
    await build({
      configFile: false,
      root,
      logLevel: 'silent',
      publicDir: false,
      build: {
        outDir,
        emptyOutDir: true,
        write: true,
        minify: true,
        sourcemap: false,
        reportCompressedSize: false,
        // Not library mode: Vite leaves the whitespace of an `es` library unminified.
        rolldownOptions: {
          input: path.join(root, entry),
          preserveEntrySignatures: 'strict',
          output: { format: 'es', entryFileNames: 'bundle.js' },
        },
      },
    });
    const files = (await readdir(outDir)).filter((name) => name.endsWith('.js'));
    if (files.length !== 1) throw new Error(`expected one bundle for ${entry}, got ${files.join(', ')}`);
    return await readFile(path.join(outDir, files[0] ?? ''));
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

const check = process.argv.includes('--check');
const missing = bundles.filter(({ entry }) => !existsSync(path.join(root, entry)));
if (missing.length) {
  console.error(`size: ${missing.map(({ entry }) => entry).join(', ')} missing; run \`npm run build\` first`);
  process.exit(2);
}

let over = false;
console.log('bundle               minified     gzip -9      budget (gzip)');
for (const { name, entry, budget } of bundles) {
  const code = await bundle(entry);
  const gzipped = gzipSync(code, { level: 9 }).length;
  const verdict = budget === null ? 'none' : `${kib(budget)}: ${gzipped < budget ? 'met' : `OVER by ${kib(gzipped - budget)}`}`;
  if (budget !== null && gzipped >= budget) over = true;
  console.log(`${name.padEnd(20)} ${kib(code.length).padStart(11)}  ${kib(gzipped).padStart(11)}  ${verdict}`);
}
console.log(over ? 'size budget exceeded' : 'size budget met');
if (check && over) process.exit(1);
