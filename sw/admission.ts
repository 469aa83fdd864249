/**
 * What both engines check of a file before its body is read: its type (the session's
 * `expectedContentTypes`) and whether it fits in what the origin may still store.
 */
import { URLError } from '../common/errors.js';
import type { ConfigurationRecord } from '../common/schema.js';
import { PART_SIZE } from '../common/cacheKeys.js';
import { isExpectedType } from './http.js';

/** What a response (or a `HEAD`) told of the file: its type, and the bytes still to come (-1: unknown). */
export interface Announced {
  url: string;
  contentType: string | null;
  needed: number;
  status: number;
}

/**
 * Why a file is refused before its bytes are spent, or undefined: a type the session does not
 * expect (`badServerResponse`), or more than a part that does not fit in what
 * `navigator.storage.estimate()` leaves (`cannotWriteToFile`, saying both figures). Under a
 * part, a write that finds no room loses no more, and many small files ask no estimate.
 */
export async function refusal({ url, contentType, needed, status }: Announced, configuration: ConfigurationRecord | undefined): Promise<URLError | undefined> {
  const expected = configuration?.expectedContentTypes;
  if (!isExpectedType(contentType, expected)) {
    return new URLError('badServerResponse', `The response to ${url} is ${contentType}, not one of expectedContentTypes (${expected!.join(', ')})`, status);
  }
  if (needed <= PART_SIZE) return undefined;
  const free = await freeSpace();
  return needed > free ? new URLError('cannotWriteToFile', `The download of ${url} needs ${needed} bytes of storage, and ${free} are free`) : undefined;
}

/** The bytes this origin may still store (quota less usage), or Infinity where the browser does not say. */
async function freeSpace(): Promise<number> {
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
  const { quota, usage } = estimate ?? {};
  return quota === undefined || usage === undefined ? Infinity : Math.max(0, quota - usage);
}
