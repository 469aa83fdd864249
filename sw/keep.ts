/**
 * `location.moveTo(name)`: a downloaded file goes into the permanent store as a move, part by
 * part, so that it needs at most one part of room more, not its size twice. Each part is
 * written under the move's folder, then deleted from where it was; the task records the folder
 * first, so its location reads each part from wherever it is, during the move and after it,
 * and a move cut short (a closed tab, a stopped worker) goes on when it is asked again.
 */
import { DIGEST, KEPT_AT, keptParts, PARTS, SIZE, SOURCE } from '../common/documentFile.js';
import type { TaskRecord } from '../common/schema.js';
import { keptKey, partKeys, permanentKey } from '../common/cacheKeys.js';
import { getBody } from './store/outbox.js';
import { packedFile } from './store/packs.js';
import { deletePart, filesCache, matchPart } from './store/parts.js';
import { changeTasks } from './store/tasks.js';

/** What the page knows of a file that its entry keeps. */
export interface KeptMetadata {
  type: string;
  url: string;
  digest: string;
}

/**
 * A completed download's file, as one Blob backed by storage: its bytes kept in the database
 * (a small file), or its parts, each where it is now. Undefined if the file is gone.
 */
export async function storedFile(task: TaskRecord): Promise<Blob | undefined> {
  if (task.parts === 0) {
    if (task.inPack) return packedFile(task.inPack, task.countOfBytesReceived);
    const body = await getBody(task.sessionId, task.taskIdentifier);
    return body && new Blob([body]);
  }
  const cache = await filesCache();
  const kept = task.keptIn;
  const parts = await Promise.all(
    partKeys(task).map(async (key, part) => (await matchPart(cache, key)) ?? (kept === undefined ? undefined : await cache.match(keptKey(kept, part)))),
  );
  if (parts.includes(undefined)) return undefined;
  return new Blob(await Promise.all(parts.map((part) => part!.blob())));
}

/**
 * Keeps a completed download's file in the permanent store under `name`, replacing a file of
 * that name. Resolves to false if the file is gone. A second name, once the file is kept under
 * a first, gets a copy: the parts belong to the first.
 */
export async function keep(task: TaskRecord, name: string, metadata: KeptMetadata): Promise<boolean> {
  const cache = await filesCache();
  const headers: Record<string, string> = { 'Content-Type': metadata.type, [KEPT_AT]: String(Date.now()), [SOURCE]: metadata.url, [DIGEST]: metadata.digest };
  if (task.parts === 0 || (task.keptAs !== undefined && task.keptAs !== name)) {
    const file = await storedFile(task);
    if (!file) return false;
    await replace(cache, name, new Response(file, { headers: { ...headers, 'Content-Length': String(file.size) } }));
    return true;
  }
  const folder = task.keptIn ?? (await recordMove(task, { keptIn: crypto.randomUUID() })).keptIn!;
  for (const [part, key] of partKeys(task).entries()) {
    const stored = await matchPart(cache, key);
    if (stored) {
      // A writer's file is copied into Cache Storage, where the permanent store is.
      await cache.put(keptKey(folder, part), stored);
      await deletePart(cache, key);
    } else if (!(await cache.match(keptKey(folder, part)))) return false;
  }
  // The name first: a later name then copies, and two entries never name one folder.
  await recordMove(task, { keptIn: folder, keptAs: name });
  await replace(
    cache,
    name,
    new Response(null, { headers: { ...headers, [SIZE]: String(task.countOfBytesReceived), [PARTS]: `${encodeURIComponent(folder)}/${task.parts}` } }),
  );
  return true;
}

/** Puts a file's entry under `name`; the parts of the file it replaces go. */
async function replace(cache: Cache, name: string, entry: Response): Promise<void> {
  const before = await cache.match(permanentKey(name));
  const parts = new Set(before ? keptParts(before) : []);
  for (const key of keptParts(entry) ?? []) parts.delete(key);
  await cache.put(permanentKey(name), entry);
  await Promise.all([...parts].map((key) => cache.delete(key)));
}

/** Writes where a task's file was moved to into its record; resolves to the record. */
async function recordMove(task: TaskRecord, moved: Pick<TaskRecord, 'keptIn' | 'keptAs'>): Promise<TaskRecord> {
  const [written] = await changeTasks(task.sessionId, [task.taskIdentifier], ([current]) => ({
    write: current ? [{ ...current, ...moved }] : [],
    tell: false,
  }));
  return written ?? { ...task, ...moved };
}
