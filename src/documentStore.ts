/**
 * What `documents` does, loaded by the page only when it is first asked (it is not needed to
 * download).
 */
import { documentPath, FILES_CACHE, permanentName } from '../common/cacheKeys.js';
import { badValue } from '../common/quote.js';
import { deleteDocument, DIGEST, KEPT_AT, keptSize, readDocument, SOURCE } from '../common/documentFile.js';
import type { StoredDocument } from './documents.js';

/** How much of a file `save` hands the file system at a time. */
const SLICE = 8 * 1024 * 1024;

/** The stored files, with their metadata (see `documents.list`). */
export async function list(): Promise<StoredDocument[]> {
  const cache = await caches.open(FILES_CACHE);
  const named = (await cache.keys()).flatMap((request) => {
    const name = permanentName(request.url);
    return name === null ? [] : [{ request, name }];
  });
  const listed = await Promise.all(
    named.map(async ({ request, name }) => {
      const response = await cache.match(request);
      if (!response) return [];
      const { headers } = response;
      const size = keptSize(response) ?? (await response.blob()).size;
      const keptAt = new Date(Number(headers.get(KEPT_AT) ?? 0));
      return [{ name, size, type: headers.get('Content-Type') ?? '', keptAt, url: headers.get(SOURCE) ?? '', digest: headers.get(DIGEST) ?? '' }];
    }),
  );
  return listed.flat();
}

/** A stored file (see `documents.get`). */
export async function get(name: string): Promise<Blob | undefined> {
  return (await readDocument(await caches.open(FILES_CACHE), name))?.file;
}

/** Deletes a stored file (see `documents.delete`). */
export async function remove(name: string): Promise<boolean> {
  return deleteDocument(await caches.open(FILES_CACHE), name);
}

/** The URL the worker serves a stored file at (see `documents.url`). */
export async function url(name: string): Promise<string> {
  if (typeof name !== 'string' || name.length === 0) throw badValue('documents.url() needs a non-empty file name', name);
  const registration = await navigator.serviceWorker?.getRegistration();
  if (!registration) throw new DOMException(`No service worker covers ${location.href}`, 'InvalidStateError');
  return new URL(documentPath(name), registration.scope).href;
}

/** Saves a stored file to disk, streamed (see `documents.save`). */
export async function save(file: Blob, name: string): Promise<void> {
  const pick = (globalThis as { showSaveFilePicker?: (options: { suggestedName: string }) => Promise<FileSystemFileHandle> }).showSaveFilePicker;
  if (pick) {
    // Slices of the stored file, which the browser copies without the bytes passing through
    // JavaScript (a pipe of its stream grew the browser's memory by 106 to 161 MiB for 1 GiB).
    const writable = await (await pick({ suggestedName: name })).createWritable();
    for (let at = 0; at < file.size; at += SLICE) await writable.write(file.slice(at, at + SLICE));
    return writable.close();
  }
  Object.assign(document.createElement('a'), { href: `${await url(name)}?download`, download: name }).click();
}
