/**
 * Where the library keeps files in Cache Storage: the cache's name, and the key of each part of
 * a body (a download's while it downloads, a kept file's, resume data's) and of each stored file.
 * Keys are URL paths under one prefix, each name one encoded segment.
 */

/** Cache Storage cache that holds temporary locations and the permanent store. */
export const FILES_CACHE = 'bgdl-files';

const FILE_PREFIX = '/__bgdl__/';

/** A name as one URL path segment; the `~` keeps `.` and `..` from being read as dot segments. */
const segment = (name: string) => `~${encodeURIComponent(name)}`;

/**
 * A stored body is cut into parts of at most this size, and a transfer keeps at most this many
 * bytes unstored (in parts in flight), so that a stop loses at most this much.
 */
export const PART_SIZE = 8 * 1024 * 1024;

/**
 * Cache key of a part of a download's body, while it downloads and until it is delivered, as
 * written by the transfer `by` (`''`: a part stored before keys carried their transfer).
 */
export function temporaryKey(sessionId: string, taskIdentifier: number, part: number, by = ''): string {
  return `${FILE_PREFIX}tmp/${segment(sessionId)}/${taskIdentifier}/${by === '' ? '' : `${segment(by)}/`}${part}`;
}

/**
 * The owner a page's writer gives the parts it writes (`partsBy`): such a part is a file of the
 * origin private file system (`partFileName`), not a Cache Storage entry.
 */
export function filePartOwner(transferId: string): string {
  return `file:${transferId}`;
}

/** Whether a part's key (`temporaryKey`) names a file a page's writer wrote: its owner's segment says so. */
export function isFilePart(key: string): boolean {
  return /\/\d+\/~file%3A[^/]*\/\d+$/.test(key);
}

/** The directory of the origin private file system that holds the parts pages' writers wrote. */
export const PARTS_DIRECTORY = 'bgdl-parts';

/** The name, in `PARTS_DIRECTORY`, of the file of a part's key. */
export function partFileName(key: string): string {
  return encodeURIComponent(key);
}

/** The keys of a task's stored parts, in order. */
export function partKeys(task: { sessionId: string; taskIdentifier: number; parts: number; partsBy?: string[] }): string[] {
  return partOwners(task, task.parts).map((by, part) => temporaryKey(task.sessionId, task.taskIdentifier, part, by));
}

/** Who wrote each of a task's first `parts` parts (`''` for a part from before version 5). */
export function partOwners(task: { partsBy?: string[] }, parts: number): string[] {
  return Array.from({ length: parts }, (_, part) => task.partsBy?.[part] ?? '');
}

/** The prefix of every temporary key of a task (of a session, without `taskIdentifier`). */
export function temporaryFolder(sessionId: string, taskIdentifier?: number): string {
  return `${FILE_PREFIX}tmp/${segment(sessionId)}/${taskIdentifier === undefined ? '' : `${taskIdentifier}/`}`;
}

/** Cache key of a part of a file `moveTo` moved into the permanent store (a `folder` per move). */
export function keptKey(folder: string, part: number): string {
  return `${FILE_PREFIX}kept/${segment(folder)}/${part}`;
}

/** Cache key of a part kept by resume data (`cancelByProducingResumeData()`). */
export function resumeKey(token: string, part: number): string {
  return `${FILE_PREFIX}resume/${segment(token)}/${part}`;
}

/** Cache key of a file in the permanent store. */
export function permanentKey(name: string): string {
  return `${FILE_PREFIX}files/${segment(name)}`;
}

/** The path, under a scope, where the worker serves a stored file (`documents.url`). */
export function documentPath(name: string): string {
  return `${FILE_PREFIX.slice(1)}files/${segment(name)}`;
}

/** The name of the stored file a path served by the worker stands for (`documentPath`), or null. */
export function documentName(pathname: string): string | null {
  const prefix = `${FILE_PREFIX}files/~`;
  const at = pathname.indexOf(prefix);
  if (at < 0 || pathname.indexOf('/', at + prefix.length) >= 0) return null;
  try {
    return decodeURIComponent(pathname.slice(at + prefix.length));
  } catch {
    return null;
  }
}

/** The name a permanent-store cache key stands for, or null for another key. */
export function permanentName(url: string): string | null {
  const path = new URL(url).pathname;
  const prefix = `${FILE_PREFIX}files/~`;
  return path.startsWith(prefix) ? decodeURIComponent(path.slice(prefix.length)) : null;
}
