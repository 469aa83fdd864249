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
  /** Its digest, as `DownloadLocation` knew it when kept (`digest`, or the last `digestFor()`), or `''`. */
  digest: string;
}

/** The rest of the store's calls, loaded when first asked. */
const more = () => import('./documentStore.js');

/**
 * The permanent store (the app's Documents directory, in Apple's terms): files kept with
 * `location.moveTo(name)`. Stored in this origin's Cache Storage, never shared with another.
 */
export const documents = {
  /** The stored files, with their size, type, when each was kept, where it came from, and its digest. */
  async list(): Promise<StoredDocument[]> {
    return (await more()).list();
  },

  /** A stored file, or undefined if there is none of that name. */
  async get(name: string): Promise<Blob | undefined> {
    return (await more()).get(name);
  },

  /** Deletes a stored file; resolves to whether there was one. */
  async delete(name: string): Promise<boolean> {
    return (await more()).remove(name);
  },

  /**
   * A URL of this origin for a stored file, that the library's worker answers with byte ranges
   * (a `<video>` or `<audio>` plays and seeks it offline; with `?download`, the browser saves
   * it), if installed with `serveDocuments` (the prebuilt worker: `bgdl-sw.js?serveDocuments`).
   */
  async url(name: string): Promise<string> {
    return (await more()).url(name);
  },

  /**
   * Saves a stored file to disk, streamed from storage (not held in memory): to a place the user
   * picks where the browser has `showSaveFilePicker` (Chromium), else as a download the worker
   * answers (`url(name)` with `?download`). Call it at a user's action, as browsers require.
   */
  async save(name: string): Promise<void> {
    const file = await documents.get(name);
    if (!file) throw new DOMException(`No document ${JSON.stringify(name)} is stored`, 'NotFoundError');
    return (await more()).save(file, name);
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
