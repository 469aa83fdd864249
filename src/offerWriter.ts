import { callWorker } from './callWorker.js';

/**
 * How often, at most, a page gives the service worker a port to its writer again: a worker
 * stopped while idle (30 s in Chromium) comes back without the ports it had.
 */
const REFRESH_MS = 10_000;

let offered = 0;
let offering: Promise<void> = Promise.resolve();

/**
 * Gives the service worker this page's writer (see `pageWriter.ts`), unless it was given within
 * `REFRESH_MS` (then it waits for that offer: a `resume()` right after `new URLSession` finds the
 * writer there) or the browser has no origin private file system to write in. Never rejects:
 * without a writer, the worker writes the bodies itself.
 */
export function offerWriter(): Promise<void> {
  if (Date.now() - offered < REFRESH_MS || !navigator.storage?.getDirectory) return offering;
  offered = Date.now();
  return (offering = import('./pageWriter.js').then(({ connect }) => connect(callWorker)).catch(() => undefined));
}
