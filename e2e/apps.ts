/**
 * Apps built apart from this repository, as a user of the package would build them: the
 * packed tarball installed with npm, bundled by the app's own Vite, served by the test server
 * on a port of their own (TEST_PORT + 1 + the parallel worker's index), so they get an origin and a service worker of their own.
 */
import { expect, type TestInfo } from '@playwright/test';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './server/server.mjs';
import { test as base, testServerAt, type AppPage, type TestServer } from './fixtures.js';

/** The repository's root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The port of a worker's app server: next to the demo server's, one per parallel worker. */
const appPort = (parallelIndex: number) => Number(process.env.TEST_PORT ?? 8321) + 1 + parallelIndex;

/** The version of a package installed in this repository, so the app gets the same (from npm's cache). */
export function versionOf(name: string): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The environment for npm and the app's tools: the caller's, less what an enclosing `npm run` set for its own package. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^npm_(package|lifecycle|config_local_prefix|command)/i.test(key)) delete env[key];
  }
  return env;
}

/** Runs a command to its end; a failure throws with its output. */
export function run(cwd: string, command: string, args: string[], timeout = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: childEnv(), timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** An app in a temporary directory. */
export interface App {
  dir: string;
  /** Runs one of the app's installed tools (`node_modules/.bin/<tool>`). */
  bin(tool: string, ...args: string[]): Promise<string>;
}

/** The test server serving one app's `dist`, with its `/files` and stats (URLs are on the app's origin). */
export interface AppServer extends TestServer {
  /** Stops serving (as if the network were gone); the test's end does it otherwise. */
  close(): Promise<void>;
}

/** What `test` gives a test that builds apps apart. */
export interface AppFixtures {
  /** Packs the built package (`npm pack`) and returns the tarball's path. */
  packLibrary: () => Promise<string>;
  /** Writes an app's files in a fresh directory and `npm install`s its dependencies there. */
  createApp: (files: Record<string, string>, dependencies: string[]) => Promise<App>;
  /** Serves a directory with the test server on the app port, until the test ends. */
  serveApp: (staticDir: string) => Promise<AppServer>;
  /** Opens the app's page and waits for `body[data-ready="true"]`. */
  openAppPage: (server: AppServer) => Promise<AppPage>;
}

/** Removes a test's temporary directory, or keeps it (and says where) when the test failed. */
async function cleanUp(dir: string, testInfo: TestInfo): Promise<void> {
  if (testInfo.status !== testInfo.expectedStatus) console.error(`[apps] kept ${dir} for inspection`);
  else await rm(dir, { recursive: true, force: true });
}

export const test = base.extend<AppFixtures>({
  packLibrary: async ({}, use, testInfo) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bgdl-pack-'));
    await use(async () => {
      if (!existsSync(path.join(ROOT, 'dist/index.js')) || !existsSync(path.join(ROOT, 'dist/types'))) {
        throw new Error('dist/ is not built: run `npm run build` first');
      }
      const output = await run(ROOT, 'npm', ['pack', '--json', '--pack-destination', dir]);
      const [{ filename }] = JSON.parse(output) as [{ filename: string }];
      return path.join(dir, filename);
    });
    await cleanUp(dir, testInfo);
  },

  createApp: async ({}, use, testInfo) => {
    const dirs: string[] = [];
    await use(async (files, dependencies) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'bgdl-app-'));
      dirs.push(dir);
      const manifest = { name: 'bgdl-test-app', private: true, version: '0.0.0', type: 'module' };
      await writeFile(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
      for (const [name, text] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
        await writeFile(path.join(dir, name), text);
      }
      await run(dir, 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...dependencies]);
      return { dir, bin: (tool, ...args) => run(dir, path.join(dir, 'node_modules', '.bin', tool), args) };
    });
    for (const dir of dirs) await cleanUp(dir, testInfo);
  },

  serveApp: async ({}, use, testInfo) => {
    const running: (() => Promise<void>)[] = [];
    await use(async (staticDir) => {
      const server = await startServer({ port: appPort(testInfo.parallelIndex), host: '127.0.0.1', staticDir });
      let closed: Promise<void> | undefined;
      const close = () => (closed ??= server.close());
      running.push(close);
      return { ...testServerAt(server.url), close };
    });
    for (const close of running) await close();
  },

  openAppPage: async ({ driver }, use) => {
    await use((server) => driver.openPage(server.url('/')));
  },
});

export { expect };

/** The files below `dir`, as `/`-separated paths relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/**
 * The test's own script in an app's page, beside the app's code: exposes the library as
 * `globalThis.bgdl` (what e2e/recorder.ts drives), waits for the worker the app registers, and
 * marks the body ready.
 */
export const APP_HARNESS_JS = `
import * as bgdl from 'bgdl';

globalThis.bgdl = bgdl;
await navigator.serviceWorker.ready;
document.body.dataset.ready = 'true';
`;

/**
 * Runs before the app's code and keeps, in `globalThis.appErrors`, what it would show a
 * developer as an error: uncaught errors, unhandled rejections, `console.error`. Read in the
 * page, it works in every browser (Playwright's console events are Chromium's here).
 */
const ERRORS_JS = `globalThis.appErrors = [];
addEventListener('error', (event) => appErrors.push(String(event.message)));
addEventListener('unhandledrejection', (event) => appErrors.push(String(event.reason)));
const consoleError = console.error.bind(console);
console.error = (...args) => (appErrors.push(args.map(String).join(' ')), consoleError(...args));`;

/** An app's `index.html`, loading the module scripts at `scripts` (the app's code, the harness). */
export function appIndexHtml(...scripts: string[]): string {
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>bgdl test app</title>
    <script>${ERRORS_JS}</script></head>
  <body>
    <h1>bgdl test app</h1>
${scripts.map((src) => `    <script type="module" src="${src}"></script>`).join('\n')}
  </body>
</html>
`;
}

/** The lint options create-vite's templates turn on, which README's code must pass too. */
const CREATE_VITE_LINT = { noUnusedLocals: true, noUnusedParameters: true, erasableSyntaxOnly: true, noFallthroughCasesInSwitch: true };

/**
 * The `tsconfig.json` of create-vite 9's `vanilla-ts` template, as an app made by README's
 * `npm create vite@latest` has it: `src/` against the DOM, Vite's client types, no `strict`
 * written (TypeScript 7 makes it the default).
 */
export const CREATE_VITE_TSCONFIG = JSON.stringify(
  {
    compilerOptions: {
      target: 'es2023',
      module: 'esnext',
      lib: ['ES2023', 'DOM'],
      types: ['vite/client'],
      allowArbitraryExtensions: true,
      skipLibCheck: true,
      moduleResolution: 'bundler',
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
      moduleDetection: 'force',
      noEmit: true,
      ...CREATE_VITE_LINT,
    },
    include: ['src'],
  },
  null,
  2,
);

/** create-vite 9's `tsconfig.node.json` (of its templates that have a `vite.config.ts`): the config, under Node. */
export const CREATE_VITE_NODE_TSCONFIG = JSON.stringify(
  {
    compilerOptions: {
      target: 'es2023',
      lib: ['ES2023'],
      types: ['node'],
      skipLibCheck: true,
      module: 'nodenext',
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
      moduleDetection: 'force',
      noEmit: true,
      ...CREATE_VITE_LINT,
    },
    include: ['vite.config.ts'],
  },
  null,
  2,
);
