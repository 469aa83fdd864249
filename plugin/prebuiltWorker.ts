import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The prebuilt worker as the app serves it: its code and, if the package has it, its source map. */
export interface PrebuiltWorker {
  code: string;
  map: string | null;
}

/**
 * Reads the prebuilt worker (`dist/bgdl-sw.js` of the package) for serving as `fileName`: its
 * `sourceMappingURL` and the map's `file` are renamed to match, so the map is found beside it.
 * @throws {Error} naming the missing file and how to get it.
 */
export function readPrebuiltWorker(workerFile: string, fileName: string): PrebuiltWorker {
  if (!existsSync(workerFile)) {
    throw new Error(
      `bgdl/vite: the prebuilt service worker ${workerFile} is missing. Reinstall the package (npm install bgdl); ` +
        'in a checkout of bgdl itself, run `npm run build` first.',
    );
  }
  const name = path.posix.basename(fileName);
  const code = readFileSync(workerFile, 'utf8');
  const mapFile = `${workerFile}.map`;
  if (!existsSync(mapFile)) return { code: code.replace(/\/\/# sourceMappingURL=\S+\s*$/, ''), map: null };
  const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { file?: string };
  return {
    code: code.replace(/(\/\/# sourceMappingURL=)\S+(\s*)$/, `$1${name}.map$2`),
    map: JSON.stringify({ ...map, file: name }),
  };
}
