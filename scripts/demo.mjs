// @ts-check
/**
 * `npm run demo`: builds the library and the demo if the sources are newer than the build,
 * then serves the demo and the test file server on 127.0.0.1 (PORT, default 8080).
 */
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startServer } from '../e2e/server/server.mjs';

const built = 'dist/demo/index.html';

/** @param {string} dir @returns {number} the newest modification time below `dir` */
function newest(dir) {
  let time = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    time = Math.max(time, entry.isDirectory() ? newest(file) : statSync(file).mtimeMs);
  }
  return time;
}

const sources = Math.max(...['src', 'sw', 'common', 'demo', 'public'].map(newest), statSync('index.html').mtimeMs);
if (!existsSync(built) || statSync(built).mtimeMs < sources) {
  execSync('npm run build', { stdio: 'inherit' });
}

const { url } = await startServer({ port: Number(process.env.PORT ?? 8080), staticDir: 'dist/demo' });
console.log(`bgdl demo: ${url}`);
console.log(`  try a file of the test server: ${url}files/20m?rate=2000000 (20 MiB at 2 MB/s)`);
