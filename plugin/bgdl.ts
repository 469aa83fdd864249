import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connect, Plugin } from 'vite';
import { resolveOptions, type BgdlOptions, type ResolvedOptions } from './options.js';
import { readPrebuiltWorker } from './prebuiltWorker.js';

/** The prebuilt worker, beside this file in the package's `dist/` (a path, not `new URL()`, which Vite's own build would inline). */
const PREBUILT_WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bgdl-sw.js');

/**
 * The Vite plugin for apps without a service worker of their own: serves the library's
 * prebuilt worker at `<base>bgdl-sw.js` in the dev server and emits it there in `vite build`,
 * so that the page's `registerServiceWorker('/bgdl-sw.js')` finds it.
 * @example export default defineConfig({ plugins: [bgdl()] });
 */
export function bgdl(options?: BgdlOptions): Plugin {
  return createBgdlPlugin(options, PREBUILT_WORKER);
}

/**
 * `bgdl()` with the prebuilt worker's path given, for tests and the demo's build.
 * @internal
 */
export function createBgdlPlugin(options: BgdlOptions | undefined, workerFile: string): Plugin {
  const resolved = resolveOptions(options);
  let base = '/';
  let ssr = false;
  return {
    name: 'bgdl',
    configResolved(config) {
      base = config.base;
      ssr = Boolean(config.build.ssr);
    },
    configureServer(server) {
      readPrebuiltWorker(workerFile, resolved.fileName); // fails now, with the reason, rather than at the page's registration
      server.middlewares.use(serveWorker(resolved, workerFile, () => server.config.base));
    },
    configurePreviewServer(server) {
      const { scope } = resolved;
      if (scope !== undefined) server.middlewares.use(allowScope(resolved.fileName, scope, () => base));
    },
    buildStart() {
      if (!ssr) readPrebuiltWorker(workerFile, resolved.fileName);
    },
    generateBundle() {
      if (ssr) return; // a server bundle has no use for a service worker
      const worker = readPrebuiltWorker(workerFile, resolved.fileName);
      this.emitFile({ type: 'asset', fileName: resolved.fileName, source: worker.code });
      if (worker.map !== null) this.emitFile({ type: 'asset', fileName: `${resolved.fileName}.map`, source: worker.map });
    },
  };
}

/** The path the app is served under: Vite's `base`, relative (`./`) or a full URL included. */
function basePath(base: string): string {
  return new URL(base, 'http://localhost/').pathname;
}

/** The path of a request, without its query. */
function pathOf(url: string | undefined): string {
  return (url ?? '/').split(/[?#]/)[0] ?? '/';
}

/** The dev server's middleware: the worker and its map, read at each request so a rebuilt package is served at once. */
function serveWorker(options: ResolvedOptions, workerFile: string, base: () => string): Connect.NextHandleFunction {
  return (req, res, next) => {
    const url = pathOf(req.url);
    const workerURL = `${basePath(base())}${options.fileName}`;
    if (url !== workerURL && url !== `${workerURL}.map`) return next();
    const worker = readPrebuiltWorker(workerFile, options.fileName);
    const body = url === workerURL ? worker.code : worker.map;
    if (body === null) return next();
    res.setHeader('Content-Type', url === workerURL ? 'text/javascript; charset=utf-8' : 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    if (options.scope !== undefined) res.setHeader('Service-Worker-Allowed', options.scope);
    res.end(body);
  };
}

/** `vite preview`'s middleware: the built worker is served from disk, with the header its scope needs. */
function allowScope(fileName: string, scope: string, base: () => string): Connect.NextHandleFunction {
  return (req, res, next) => {
    if (pathOf(req.url) === `${basePath(base())}${fileName}`) res.setHeader('Service-Worker-Allowed', scope);
    next();
  };
}
