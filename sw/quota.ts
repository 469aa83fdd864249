import { URLError } from '../common/errors.js';

/**
 * Whether a storage write failed for want of room. Chromium says so with a `QuotaExceededError`
 * DOMException. Firefox's Cache Storage rejects `cache.put` with an XPCOM exception named
 * `NS_ERROR_FILE_NO_DEVICE_SPACE` (not an `Error`; measured in Firefox ESR 153 with a fixed
 * storage limit), having first cancelled the body stream with an `AbortError`.
 */
export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_FILE_NO_DEVICE_SPACE';
}

/**
 * The named error a download that found no room ends with, saying what the quota error said
 * (its message, else its name: Firefox's exception has no message).
 */
export function storageFull(url: string, error: unknown): URLError {
  const { name, message } = error as { name?: unknown; message?: unknown };
  return new URLError('cannotWriteToFile', `No storage left for the download of ${url}: ${String(message || name)}`);
}

/** The bytes this origin may still store (quota less usage), or Infinity where the browser does not say. */
export async function freeSpace(): Promise<number> {
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
  const { quota, usage } = estimate ?? {};
  return quota === undefined || usage === undefined ? Infinity : Math.max(0, quota - usage);
}

/**
 * Fails a download before its body is read when the bytes still to come (`needed`) do not fit
 * in what the origin may store: a `cannotWriteToFile` URLError saying both figures.
 */
export async function checkRoom(url: string, needed: number): Promise<void> {
  if (needed <= 0) return;
  const free = await freeSpace();
  if (needed > free) throw new URLError('cannotWriteToFile', `The download of ${url} needs ${needed} bytes of storage, and ${free} are free`);
}
