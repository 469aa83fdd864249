/**
 * The code blocks of README.md that the package tests build apps from, so that README cannot
 * drift from what works: a block marked `<!-- test: <app>/<path> -->` is written verbatim as the
 * app's file `<path>`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './apps.js';

/** A marker, then the fenced block right after it. */
const MARKED_BLOCK = /<!-- test: ([^\s]+) -->\n```[\w-]*\n([\s\S]*?)^```$/gm;

/**
 * The files README.md gives for `app`, by path (`'vite.config.ts'`, `'src/main.ts'`).
 * @throws {Error} if README marks none of `expected`, so that a renamed marker fails the test rather than skip a file.
 */
export function readmeFiles(app: string, expected: string[]): Record<string, string> {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const files: Record<string, string> = {};
  for (const [, name = '', code = ''] of readme.matchAll(MARKED_BLOCK)) {
    if (name.startsWith(`${app}/`)) files[name.slice(app.length + 1)] = code;
  }
  const missing = expected.filter((file) => !(file in files));
  if (missing.length > 0) throw new Error(`README.md marks no block <!-- test: ${app}/${missing[0]} --> (it marks ${Object.keys(files).join(', ') || 'none'})`);
  return files;
}
