import { readFileSync } from 'node:fs';
import { defineConfig, type UserConfig } from 'vite';

/**
 * Three builds, chosen by `--mode` (see `npm run build`):
 * - `lib`: the npm package's page entry and worker entry, ESM, dependencies left to the app.
 * - `worker`: `dist/bgdl-sw.js`, a ready service worker for apps that have none (one file).
 * - `demo`: the demo page in `dist/demo`, with the prebuilt worker as its `sw.js`.
 */
const builds: Record<string, UserConfig> = {
  lib: {
    publicDir: false,
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      sourcemap: true,
      minify: false,
      lib: { entry: { index: 'src/index.ts', sw: 'sw/index.ts' }, formats: ['es'] },
      rolldownOptions: { external: ['idb', 'comlink', 'workbox-window'] },
    },
  },
  worker: {
    publicDir: false,
    build: {
      outDir: 'dist',
      emptyOutDir: false,
      sourcemap: true,
      lib: { entry: 'sw/worker.ts', formats: ['iife'], name: 'bgdl', fileName: () => 'bgdl-sw.js' },
    },
  },
  demo: {
    base: './',
    build: { outDir: 'dist/demo', emptyOutDir: true, sourcemap: true },
    plugins: [
      {
        name: 'bgdl-demo-worker',
        generateBundle() {
          this.emitFile({ type: 'asset', fileName: 'sw.js', source: readFileSync('dist/bgdl-sw.js') });
        },
      },
    ],
  },
};

export default defineConfig(({ mode }) => {
  const config = builds[mode];
  if (!config) throw new Error(`vite.config.ts: unknown mode ${JSON.stringify(mode)}; use one of ${Object.keys(builds).join(', ')}`);
  return config;
});
