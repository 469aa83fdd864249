import { FILES_CACHE, temporaryFolder, temporaryKey } from '../common/schema.js';

/** The cache where the library keeps files. */
export function filesCache(): Promise<Cache> {
  return caches.open(FILES_CACHE);
}

/** Stores one part of a task's body. Cache Storage refuses partial (206) responses: it is a 200. */
export async function putPart(sessionId: string, taskIdentifier: number, index: number, body: ReadableStream<Uint8Array> | Blob | null): Promise<void> {
  await (await filesCache()).put(temporaryKey(sessionId, taskIdentifier, index), new Response(body));
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
