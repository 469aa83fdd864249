import { FILES_CACHE, permanentKey, permanentName } from '../common/schema.js';

/**
 * The permanent store (the app's Documents directory, in Apple's terms): files kept with
 * `location.moveTo(name)`. Stored in this origin's Cache Storage, never shared with another.
 */
export const documents = {
  /** The names of the stored files. */
  async list(): Promise<string[]> {
    const keys = await (await caches.open(FILES_CACHE)).keys();
    return keys.map((request) => permanentName(request.url)).filter((name): name is string => name !== null);
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
};
