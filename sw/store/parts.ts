import { FILES_CACHE, temporaryFolder, temporaryKey } from '../../common/cacheKeys.js';

let files: Promise<Cache> | undefined;

/**
 * The cache where the library keeps files, opened once per worker life (an open for each part
 * stored and each file deleted showed in the worker's profile with 1,000 small files).
 */
export function filesCache(): Promise<Cache> {
  files ??= caches.open(FILES_CACHE);
  files.catch(() => (files = undefined));
  return files;
}

/**
 * Stores one part of a task's body: its bytes, or a whole `200` response as it came (stored
 * natively, its body never read in JavaScript). Cache Storage refuses partial (206) responses.
 */
export async function putPart(
  sessionId: string,
  taskIdentifier: number,
  index: number,
  body: ReadableStream<Uint8Array> | Blob | Response | null,
  by: string,
): Promise<void> {
  await (await filesCache()).put(temporaryKey(sessionId, taskIdentifier, index, by), body instanceof Response ? body : new Response(body));
}

/**
 * Deletes every stored part of a task (or of a session's tasks but those `keep` gives, asked
 * once the parts are listed).
 */
export async function deleteParts(sessionId: string, taskIdentifier?: number, keeping?: () => Promise<ReadonlySet<number>>): Promise<void> {
  const cache = await filesCache();
  const prefix = temporaryFolder(sessionId, taskIdentifier);
  const sessionPrefix = temporaryFolder(sessionId);
  const paths = (await cache.keys()).map((request) => new URL(request.url).pathname).filter((path) => path.startsWith(prefix));
  // Nothing stored: `keeping` (a read of every task of the session) is not asked.
  if (paths.length === 0) return;
  const keep = (await keeping?.()) ?? new Set<number>();
  for (const pathname of paths) {
    const task = Number(pathname.slice(sessionPrefix.length).split('/')[0]);
    if (!keep.has(task)) await cache.delete(pathname);
  }
}

/** Deletes stored entries by key (a delivered file's parts). */
export async function deleteKeys(keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const cache = await filesCache();
  await Promise.all(keys.map((key) => cache.delete(key)));
}

/**
 * Copies stored entries from the keys `from` to the keys `to`, one by one (a copy of a stored
 * response is a handle, not its bytes in memory). Returns false, having copied nothing more,
 * if one is gone.
 */
export async function copyParts(from: string[], to: string[]): Promise<boolean> {
  const cache = await filesCache();
  for (const [index, key] of from.entries()) {
    const stored = await cache.match(key);
    if (!stored) return false;
    await cache.put(to[index]!, stored);
  }
  return true;
}
