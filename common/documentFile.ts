/**
 * A file in the permanent store (`documents`), as both sides read it. A file kept by `moveTo`
 * stays in the parts it was downloaded in, moved one by one (the Cache API has no rename, and a
 * file copied whole needed its size free twice); its entry holds no bytes, only its metadata
 * and where its parts are. A small file, or one kept before 0.2, is one entry with its bytes.
 */
import { keptKey, permanentKey } from './cacheKeys.js';

/** The headers a kept file's entry holds its metadata in (read back by `documents.list()`). */
export const KEPT_AT = 'X-Bgdl-Kept-At';
export const SOURCE = 'X-Bgdl-Url';
export const DIGEST = 'X-Bgdl-Digest';
/** The file's size, where the entry holds no bytes. */
export const SIZE = 'X-Bgdl-Size';
/** Where the file's parts are: `<folder>/<parts>` (see `keptKey`), on an entry that holds no bytes. */
export const PARTS = 'X-Bgdl-Parts';

/** The keys of a kept file's parts, as its entry names them; null for an entry that holds the bytes. */
export function keptParts(entry: Response): string[] | null {
  const match = /^(.+)\/(\d+)$/.exec(entry.headers.get(PARTS) ?? '');
  if (!match) return null;
  return Array.from({ length: Number(match[2]) }, (_, part) => keptKey(decodeURIComponent(match[1]!), part));
}

/** A file's size, as its entry says. */
export function keptSize(entry: Response): number | undefined {
  const size = entry.headers.get(SIZE) ?? entry.headers.get('Content-Length');
  return size === null ? undefined : Number(size);
}

/**
 * Kept files as Blobs, by where their parts are: a media element asks a file in many ranges,
 * and a file of 256 parts took 250 to 320 ms to put together. A move's folder is never used
 * again, so a file found under the same parts is the same file.
 */
const assembled = new Map<string, Blob>();

/**
 * A stored file's bytes (a Blob backed by storage, of its type) and its entry's headers, or
 * undefined if there is no such file or a part of it is gone.
 */
export async function readDocument(cache: Cache, name: string): Promise<{ file: Blob; headers: Headers } | undefined> {
  const entry = await cache.match(permanentKey(name));
  if (!entry) return undefined;
  const type = entry.headers.get('Content-Type') ?? '';
  const keys = keptParts(entry);
  if (!keys) return { file: (await entry.blob()).slice(0, undefined, type), headers: entry.headers };
  const where = `${entry.headers.get(PARTS)} ${type}`;
  let file = assembled.get(where);
  if (!file) {
    const parts = await Promise.all(keys.map(async (key) => (await cache.match(key))?.blob()));
    if (parts.includes(undefined)) return undefined;
    file = new Blob(parts as Blob[], { type });
    // A few files at a time: each Blob holds only handles to its parts.
    if (assembled.size >= 16) assembled.delete(assembled.keys().next().value!);
    assembled.set(where, file);
  }
  return { file, headers: entry.headers };
}

/**
 * Deletes a stored file: its entry first (it is no longer listed), then its parts. Resolves to
 * whether there was one.
 */
export async function deleteDocument(cache: Cache, name: string): Promise<boolean> {
  const entry = await cache.match(permanentKey(name));
  if (!entry) return false;
  await cache.delete(permanentKey(name));
  await Promise.all((keptParts(entry) ?? []).map((key) => cache.delete(key)));
  return true;
}
