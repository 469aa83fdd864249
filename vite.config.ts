import { defineConfig, type UserConfig } from 'vite';
import { createBgdlPlugin } from './plugin/bgdl.js';

/**
 * Four builds, chosen by `--mode` (see `npm run build`):
 * - `lib`: the npm package's page entry and worker entry, ESM, dependencies left to the app.
 * - `worker`: `dist/bgdl-sw.js`, a ready service worker for apps that have none (one file).
 * - `plugin`: `dist/vite.js`, the Vite plugin that serves that worker (`bgdl/vite`), ESM for Node.
 * - `demo`: the demo page in `dist/demo`, with the prebuilt worker as its `sw.js` (emitted by the plugin).
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
    // The page's writer (`sw/writer`) is inlined into the page entry's lazy chunk as a string,
    // which an app's bundler does not minify: it is minified here.
    worker: { rolldownOptions: { output: { minify: true, comments: false } } },
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
  plugin: {
    publicDir: false,
    build: {
      outDir: 'dist',
      emptyOutDir: false,
      sourcemap: true,
      minify: false,
      ssr: true, // for Node: its built-in modules stay imports rather than browser stubs
      lib: { entry: { vite: 'plugin/vite.ts' }, formats: ['es'] },
      rolldownOptions: { external: ['vite'] },
    },
  },
  demo: {
    base: './',
    build: { outDir: 'dist/demo', emptyOutDir: true, sourcemap: true },
    plugins: [createBgdlPlugin({ fileName: 'sw.js' }, 'dist/bgdl-sw.js')],
  },
};

export default defineConfig(({ mode }) => {
  const config = builds[mode];
  if (!config) throw new Error(`vite.config.ts: unknown mode ${JSON.stringify(mode)}; use one of ${Object.keys(builds).join(', ')}`);
  return config;
});
