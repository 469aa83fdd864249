import { serializeError } from '../../common/errors.js';
import {
  type ConfigurationRecord,
  downloadOf,
  type DownloadedFile,
  type EventRecord,
  type TaskRecord,
  type ResponseRecord,
  type TaskEvent,
  type TransactionRecord,
} from '../../common/schema.js';
import { keptKey, partKeys, permanentKey } from '../../common/cacheKeys.js';
import { taskMetrics, withTransactions } from '../metrics.js';
import { owns } from '../../common/lifecycle.js';
import { announce, notificationsGranted } from '../launch.js';
import { inBatch, type BatchTransaction } from './batch.js';
import { dropPacks, packBody } from './packs.js';
import { getDatabase } from './database.js';
import { keptParts } from '../../common/documentFile.js';
import { deleteKeys, filesCache } from './parts.js';
import { taskKeyRanges } from './keyRuns.js';
import { ackBound } from './handedOut.js';
import { changed } from './tasks.js';

/**
 * The outbox: what happened to tasks, kept until a page's delegate has seen it. A task's end
 * and its events are written together; a delivered event goes with what it pointed to.
 */

/**
 * How a transfer ended: its file is stored in `parts` at the task's temporary keys, or is a
 * small file's `body`, stored here with the completion; or it failed.
 */
export type Outcome = (
  { response: ResponseRecord; size: number; parts: number; partsBy?: string[]; body?: ArrayBuffer; /** `sha256-BASE64` */ digest?: string } | { error: unknown }
) & {
  /** The transfer's requests not stored in the task yet, for its metrics. */
  transactions?: TransactionRecord[];
};

/**
 * Ends a task: in one transaction (shared with other writes of the moment), marks it completed
 * and queues its delegate events in the outbox, so that a stop at any point leaves either both
 * or neither. Only the transfer the task is waiting for (`transferId`) may end it; a late or
 * repeated report is ignored. Returns whether the task was ended by this call.
 */
export async function completeTask(sessionId: string, taskIdentifier: number, transferId: string | null, outcome: Outcome): Promise<boolean> {
  const ended = await inBatch(async (tx) => {
    const tasks = tx.objectStore('tasks');
    // Requests in a transaction run in order: each `await` is a round trip to the database, so
    // those that need no answer go together (with many tasks ending, the round trips added up).
    // The configuration says whether the delegate takes metrics, and a launch notification's text.
    const [task, configuration] = await Promise.all([tasks.get([sessionId, taskIdentifier]), configurationIn(tx, sessionId)]);
    const engine = task?.engine;
    if (!owns(task, transferId)) return undefined;
    let download: DownloadedFile | undefined;
    if ('error' in outcome) {
      task.error = serializeError(outcome.error);
    } else {
      task.response = outcome.response;
      task.countOfBytesReceived = outcome.size;
      task.countOfBytesExpectedToReceive = outcome.size;
      if (task.kind === 'upload') {
        task.countOfBytesSent = task.countOfBytesExpectedToSend;
      } else {
        // A file stored by earlier transfers (whole before this one began) keeps their parts.
        task.partsBy = outcome.partsBy ?? task.partsBy?.slice(0, outcome.parts);
        task.parts = outcome.parts;
        task.digest = null;
        const { size, parts, digest } = outcome;
        download = { size, parts, partsBy: task.partsBy, ...(digest ? { digest } : {}) };
      }
    }
    // Metrics only for a delegate that takes them: with many small files, each event's size adds up.
    const metrics = configuration?.didFinishCollecting
      ? { metrics: taskMetrics({ ...task, transactions: withTransactions(task, outcome.transactions ?? []) }) }
      : {};
    // A small file's bytes go in the batch's pack (`packs.ts`), to which its task and event point.
    if (download && 'body' in outcome && outcome.body) download.inPack = task.inPack = packBody(tx, outcome.body);
    const event: TaskEvent = { type: 'didCompleteWithError', taskIdentifier, error: task.error, ...metrics, ...(download ? { download } : {}) };
    delete task.transactions;
    task.state = 'completed';
    task.transferId = null;
    task.ask = null;
    task.body = null;
    const writes = [tasks.put(task), tx.objectStore('events').add({ ...event, sessionId } as EventRecord)];
    // Counted only when a launch notification may be shown (the streaming engine's tasks, with
    // permission): with many tasks ending, reading every waiting event each time adds up.
    const announcing = notificationsGranted() && engine === 'stream' && configuration?.sessionSendsLaunchEvents === true;
    const waiting = announcing ? tx.objectStore('events').index('bySession').getAll(sessionId) : [];
    await Promise.all(writes);
    return { configuration, announcing, finished: (await waiting).filter((event) => event.type === 'didCompleteWithError').length };
  });
  if (!ended) return false;
  changed(sessionId, [taskIdentifier]);
  // Background Fetch shows its own UI; for the streaming engine's tasks, a notification.
  if (ended.announcing) await announce(ended.configuration, ended.finished).catch(() => undefined);
  return true;
}

/** By batched transaction, each session's configuration as read in it. */
const configurations = new WeakMap<BatchTransaction, Map<string, Promise<ConfigurationRecord | undefined>>>();

/** A session's configuration, read once per transaction: the completions batched together share it. */
function configurationIn(tx: BatchTransaction, sessionId: string): Promise<ConfigurationRecord | undefined> {
  let read = configurations.get(tx);
  if (!read) configurations.set(tx, (read = new Map()));
  if (!read.has(sessionId)) read.set(sessionId, tx.objectStore('sessions').get(sessionId));
  return read.get(sessionId)!;
}

/** The sessions with events waiting in the outbox. */
export async function pendingSessions(): Promise<string[]> {
  const index = (await getDatabase()).transaction('events').store.index('bySession');
  const sessions: string[] = [];
  for (let cursor = await index.openKeyCursor(null, 'nextunique'); cursor; cursor = await cursor.continue()) sessions.push(cursor.key);
  return sessions;
}

/** A small file's bytes, as versions before 8 kept them in the database with its completion (see `SMALL_FILE_SIZE`). */
export async function getBody(sessionId: string, taskIdentifier: number): Promise<ArrayBuffer | undefined> {
  return (await getDatabase()).get('bodies', [sessionId, taskIdentifier]);
}

/**
 * Removes a session's delivered events, every one up to `seq` (at most the highest handed out
 * to pages), with what they pointed to: a task whose last event was seen leaves the session
 * (as in URLSession), a delivered file's temporary location goes (a file the delegate kept was
 * moved out of it, and a move left half done goes too).
 */
export async function acknowledge(sessionId: string, seq: number): Promise<void> {
  // In the transaction of the worker's other writes of the moment (the completions): with many
  // tasks ending, a transaction of its own waited for them and held them up.
  const { delivered, ended, moves } = await inBatch(async (tx) => {
    // Events are numbered in order: those up to the bound (of this session) are delivered.
    const events = tx.objectStore('events');
    const upTo = await events.getAll(IDBKeyRange.upperBound(await ackBound(tx, sessionId, seq)));
    const delivered = upTo.filter((event) => event.sessionId === sessionId);
    // A file whose move into the permanent store was begun: its parts go unless an entry names them.
    const moved = delivered.flatMap((event) => ((downloadOf(event)?.parts ?? 0) > 0 ? [tx.objectStore('tasks').get([sessionId, event.taskIdentifier])] : []));
    const ended = delivered.flatMap((event) => (event.type === 'didCompleteWithError' ? [event.taskIdentifier] : []));
    const packed = delivered.flatMap((event) => downloadOf(event)?.inPack?.pack ?? []);
    // Small files of an earlier version, each in a record of its own.
    const bodies = delivered.flatMap((event) => {
      const file = downloadOf(event);
      return file?.parts === 0 && !file.inPack ? [event.taskIdentifier] : [];
    });
    // Where no other session's event is among them (the usual case), one request deletes all.
    const alone = delivered.length === upTo.length && delivered.length > 0;
    const deletes = alone ? [events.delete(IDBKeyRange.bound(upTo[0]!.seq, upTo.at(-1)!.seq))] : delivered.map((event) => events.delete(event.seq));
    for (const keys of taskKeyRanges(sessionId, ended)) deletes.push(tx.objectStore('tasks').delete(keys));
    for (const keys of taskKeyRanges(sessionId, bodies)) deletes.push(tx.objectStore('bodies').delete(keys));
    await Promise.all(deletes);
    await dropPacks(tx, packed);
    return { delivered, ended, moves: (await Promise.all(moved)).filter((task) => task?.keptIn !== undefined) as TaskRecord[] };
  });
  // Other pages of the session learn that the tasks have left it.
  changed(sessionId, ended, ended.length > 0);
  // Without holding up the page's next call: what a stopped worker leaves, `attach` sweeps.
  void deleteKeys(delivered.flatMap((event) => partKeys({ parts: 0, ...downloadOf(event), sessionId, taskIdentifier: event.taskIdentifier })));
  for (const task of moves) void dropUnkept(task);
}

/**
 * Deletes the parts a move took out of a delivered file's temporary location, unless the
 * entry of the name it was kept under names them: a handler gave the file up mid-move.
 */
async function dropUnkept({ keptIn, keptAs, parts }: TaskRecord): Promise<void> {
  const cache = await filesCache();
  const entry = keptAs === undefined ? undefined : await cache.match(permanentKey(keptAs));
  const keys = Array.from({ length: parts }, (_, part) => keptKey(keptIn!, part));
  if (entry && keptParts(entry)?.[0] === keys[0]) return;
  await Promise.all(keys.map((key) => cache.delete(key)));
}
