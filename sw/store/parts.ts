import { FILES_CACHE, isFilePart, PARTS_DIRECTORY, partFileName, temporaryFolder, temporaryKey } from '../../common/cacheKeys.js';

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
 * The directory of the parts pages' writers wrote (see `sw/writer`), or undefined where the
 * browser has no origin private file system (WebKitGTK) or none was made.
 */
async function partsDirectory(): Promise<FileSystemDirectoryHandle | undefined> {
  try {
    return await (await navigator.storage.getDirectory()).getDirectoryHandle(PARTS_DIRECTORY);
  } catch {
    return undefined;
  }
}

/** A stored part as a response (a writer's file, or a Cache Storage entry), undefined if it is gone. */
export async function matchPart(cache: Cache, key: string): Promise<Response | undefined> {
  if (!isFilePart(key)) return cache.match(key);
  try {
    const file = await (await (await partsDirectory())?.getFileHandle(partFileName(key)))?.getFile();
    return file && new Response(file);
  } catch {
    return undefined; // NotFoundError
  }
}

/**
 * Deletes a stored part, wherever it is. A writer's file that cannot be deleted (its writer holds
 * it) stays, or, with `strict`, rejects; one that is gone is deleted.
 */
export async function deletePart(cache: Cache, key: string, strict = false): Promise<void> {
  if (!isFilePart(key)) return void (await cache.delete(key));
  const removed = (await partsDirectory())?.removeEntry(partFileName(key));
  await removed?.catch((error: unknown) => {
    if (strict && (error as { name?: unknown }).name !== 'NotFoundError') throw error;
  });
}

/** The keys of every part stored under `prefix`, in Cache Storage and in writers' files. */
async function partsUnder(cache: Cache, prefix: string): Promise<string[]> {
  const keys = (await cache.keys()).map((request) => new URL(request.url).pathname);
  const directory = await partsDirectory();
  if (directory) for await (const name of directory.keys()) keys.push(decodeURIComponent(name));
  return keys.filter((key) => key.startsWith(prefix));
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
  const paths = await partsUnder(cache, prefix);
  // Nothing stored: `keeping` (a read of every task of the session) is not asked.
  if (paths.length === 0) return;
  const keep = (await keeping?.()) ?? new Set<number>();
  for (const pathname of paths) {
    const task = Number(pathname.slice(sessionPrefix.length).split('/')[0]);
    if (!keep.has(task)) await deletePart(cache, pathname);
  }
}

/** Deletes stored entries by key (a delivered file's parts). */
export async function deleteKeys(keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const cache = await filesCache();
  await Promise.all(keys.map((key) => deletePart(cache, key)));
}

/**
 * Copies stored entries from the keys `from` to the keys `to`, one by one (a copy of a stored
 * response is a handle, not its bytes in memory; a writer's file is copied into Cache Storage). Returns false, having copied nothing more,
 * if one is gone.
 */
export async function copyParts(from: string[], to: string[]): Promise<boolean> {
  const cache = await filesCache();
  for (const [index, key] of from.entries()) {
    const stored = await matchPart(cache, key);
    if (!stored) return false;
    await cache.put(to[index]!, stored);
  }
  return true;
}
