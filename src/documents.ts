import { documentPath, FILES_CACHE, permanentKey, permanentName } from '../common/schema.js';
import { badValue } from '../common/quote.js';

/** A file in the permanent store, as `documents.list()` gives it. */
export interface StoredDocument {
  name: string;
  /** Its size in bytes. */
  size: number;
  /** Its media type (the response's `Content-Type`), or `''`. */
  type: string;
  /** When it was kept (`moveTo`). */
  keptAt: Date;
  /** The URL it was downloaded from (after redirects), or `''` if not known. */
  url: string;
  /** Its digest, as `DownloadLocation.digest` gave it (`sha256-…`), or `''`. */
  digest: string;
}

/** The headers `moveTo` stores a file's metadata in (read back by `documents.list()`). */
export const KEPT_AT = 'X-Bgdl-Kept-At';
export const SOURCE = 'X-Bgdl-Url';
export const DIGEST = 'X-Bgdl-Digest';

/**
 * The permanent store (the app's Documents directory, in Apple's terms): files kept with
 * `location.moveTo(name)`. Stored in this origin's Cache Storage, never shared with another.
 */
export const documents = {
  /** The stored files, with their size, type, when each was kept and where it came from. */
  async list(): Promise<StoredDocument[]> {
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
        const size = Number(headers.get('Content-Length') ?? (await response.blob()).size);
        const keptAt = new Date(Number(headers.get(KEPT_AT) ?? 0));
        return [{ name, size, type: headers.get('Content-Type') ?? '', keptAt, url: headers.get(SOURCE) ?? '', digest: headers.get(DIGEST) ?? '' }];
      }),
    );
    return listed.flat();
  },

  /** A stored file, or undefined if there is none of that name. */
  async get(name: string): Promise<Blob | undefined> {
    const response = await (await caches.open(FILES_CACHE)).match(permanentKey(name));
    return response?.blob();
  },

  /** Deletes a stored file; resolves to whether there was one. */
  async delete(name: string): Promise<boolean> {
    return (await caches.open(FILES_CACHE)).delete(permanentKey(name));
  },

  /**
   * A URL of this origin for a stored file, that the library's worker answers with byte ranges
   * (a `<video>` or `<audio>` plays and seeks it offline; with `?download`, the browser saves
   * it), if installed with `serveDocuments` (the prebuilt worker: `bgdl-sw.js?serveDocuments`).
   */
  async url(name: string): Promise<string> {
    if (typeof name !== 'string' || name.length === 0) throw badValue('documents.url() needs a non-empty file name', name);
    const registration = await navigator.serviceWorker?.getRegistration();
    if (!registration) throw new DOMException(`No service worker covers ${location.href}`, 'InvalidStateError');
    return new URL(documentPath(name), registration.scope).href;
  },

  /**
   * Asks the browser to keep the origin's data (the stored files too) under storage pressure:
   * call it from a user's action (a click), as browsers require. Resolves to whether the data
   * is kept; `debugState()` shows it too.
   */
  async persist(): Promise<boolean> {
    return (await navigator.storage?.persist?.()) ?? false;
  },
};
