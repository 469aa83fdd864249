/**
 * The task store: every read and write of sessions and tasks. A write that pages should see
 * goes through `changed` (mark the tasks changed for the pages' drains, tell the pages), the
 * one place that does so; a transfer's writes go through the fence (`owns`).
 */
import type { IDBPTransaction } from 'idb';
import { canMove, owns, type TaskState } from '../../common/lifecycle.js';
import type { ConfigurationRecord, EventRecord, Schema, TaskRecord, TransactionRecord } from '../../common/schema.js';
import { withTransactions } from '../metrics.js';
import { notify } from '../notify.js';
import { inBatch } from './batch.js';
import { touch } from './changes.js';
import { counted, handOutIn } from './handedOut.js';
import { taskKeyRanges } from './keyRuns.js';
import { getDatabase, markWritten } from './database.js';

/**
 * Marks tasks of a session as written (call it once the write committed: a read that began
 * before then still counts the change as new) and, with `tell`, tells the session's pages.
 */
export function changed(sessionId: string, taskIdentifiers: Iterable<number>, tell: boolean | 'standby' = true): void {
  touch(sessionId, taskIdentifiers);
  if (tell) notify({ type: 'changed', sessionId }, tell === 'standby');
}

/** One task, or undefined. */
export async function getTask(sessionId: string, taskIdentifier: number): Promise<TaskRecord | undefined> {
  return (await getDatabase()).get('tasks', [sessionId, taskIdentifier]);
}

/** A session's configuration as its last page gave it, or undefined. */
export async function getSession(sessionId: string): Promise<ConfigurationRecord | undefined> {
  return (await getDatabase()).get('sessions', sessionId);
}

/** Keeps a session's configuration. */
export async function putSession(configuration: ConfigurationRecord): Promise<void> {
  await (await getDatabase()).put('sessions', configuration);
}

/** Every task of every session (for a wake with no page). */
export async function allTasks(): Promise<TaskRecord[]> {
  return (await getDatabase()).getAll('tasks');
}

/** The tasks a transfer carries (or carried: completed ones too). */
export async function tasksOfTransfer(transferId: string): Promise<TaskRecord[]> {
  return (await getDatabase()).getAllFromIndex('tasks', 'byTransfer', transferId);
}

/** The keys of a session's tasks: `[sessionId, taskIdentifier]`, so one range of the store. */
export function sessionRange(sessionId: string): IDBKeyRange {
  return IDBKeyRange.bound([sessionId, -Infinity], [sessionId, Infinity]);
}

/** What a session has in the store: its tasks and undelivered events. */
export interface SessionRead {
  tasks: TaskRecord[];
  events: EventRecord[];
}

/** A session's tasks and undelivered events, as they are. */
export async function readSession(sessionId: string): Promise<SessionRead> {
  return readSessionIn((await getDatabase()).transaction(['tasks', 'events']), sessionId);
}

/** `readSession` in a transaction of the caller's. */
export async function readSessionIn(tx: IDBPTransaction<Schema, ('tasks' | 'events' | 'app')[], 'readonly'>, sessionId: string): Promise<SessionRead> {
  // The events' first request goes first: the read of the events is then asked for while the
  // tasks are read, rather than after.
  const [events, tasks] = await Promise.all([sessionEvents(tx, sessionId), tx.objectStore('tasks').getAll(sessionRange(sessionId))]);
  return { tasks, events };
}

/**
 * Some tasks of a session (`gone`: those no longer there) and its undelivered events, and with
 * `handOut`, the events recorded as handed out (`handOutIn`). Read in the transaction of the
 * worker's writes of the moment (completions, acknowledges) rather than in one of its own, which
 * waited for them and held them up: with 1,000 small files, a page's drains took a third of the
 * time the writes had; the hand-out, in a transaction of its own, waited for them again. The
 * tasks and events are read by requests that go out together, so that they see the same state.
 */
export async function readTasks(sessionId: string, ids: number[], handOut: boolean): Promise<{ tasks: TaskRecord[]; gone: number[]; events: EventRecord[] }> {
  const [tasks, events, seq] = await inBatch(async (tx) => {
    const store = tx.objectStore('events');
    const first = await store.index('bySession').openKeyCursor(sessionId);
    // By runs of consecutive identifiers, as they mostly are: a request per task was most of the
    // read's time with many small files ending.
    const runs = taskKeyRanges(sessionId, ids).map((keys) => tx.objectStore('tasks').getAll(keys));
    const [tasks, events] = await Promise.all([
      Promise.all(runs).then((found) => found.flat()),
      first ? store.getAll(IDBKeyRange.lowerBound(first.primaryKey)).then((all) => all.filter((event) => event.sessionId === sessionId)) : [],
    ]);
    return [tasks, events, handOut ? await handOutIn(tx, sessionId, events) : 0] as const;
  });
  if (handOut) counted(sessionId, seq);
  const found = new Set(tasks.map((task) => task.taskIdentifier));
  return { tasks, gone: ids.filter((id) => !found.has(id)), events };
}

/**
 * A session's waiting events, in order. Read from the store, from the session's first event
 * on, rather than through the index (a lookup per event); the tasks likewise, by key range.
 * Measured with 1,000 tasks and 2,000 events waiting (shared 2-core machine): `attach` took
 * 50-120 ms through the indexes, 41-47 ms so. Other sessions' events after it are dropped.
 */
async function sessionEvents(tx: IDBPTransaction<Schema, ('tasks' | 'events' | 'app')[], 'readonly'>, sessionId: string): Promise<EventRecord[]> {
  const events = tx.objectStore('events');
  const first = await events.index('bySession').openKeyCursor(sessionId);
  if (!first) return [];
  return (await events.getAll(IDBKeyRange.lowerBound(first.primaryKey))).filter((event) => event.sessionId === sessionId);
}

/** How many of `changeTasks`' writes are asked for before its `asked`, when it has more. */
const FIRST_WRITES = 32;

/**
 * Reads tasks of a session and writes back those `change` returns, in one transaction (read
 * together, written together: each `await` in a transaction is a round trip). `change` gets
 * the records (undefined where there is none) and, with `withKeys`, the identifiers the
 * session has. Pages are told when `change` says so. `asked` is called once the writes (with
 * many, the first `FIRST_WRITES`; the rest follow in the same transaction) are asked for, before
 * they commit: a transaction begun after then sees them all (IndexedDB runs transactions over
 * the same store in the order they began).
 */
export async function changeTasks(
  sessionId: string,
  ids: number[],
  change: (records: (TaskRecord | undefined)[], taken: ReadonlySet<number>) => { write: TaskRecord[]; tell: boolean },
  known?: ReadonlyMap<number, TaskRecord>,
  withKeys = false,
  asked?: () => void,
): Promise<TaskRecord[]> {
  const tx = (await getDatabase()).transaction(['tasks', 'app'], 'readwrite');
  const store = tx.objectStore('tasks');
  const [records, keys] = await Promise.all([
    Promise.all(ids.map((id) => known?.get(id) ?? store.get([sessionId, id]))),
    withKeys ? store.getAllKeys(sessionRange(sessionId)) : [],
  ]);
  const { write, tell } = change(records, new Set(keys.map((key) => key[1])));
  if (write.length > 0) markWritten(tx);
  // With many, the first writes go before `asked` and the rest once the first has landed: the
  // transfers `asked` launches reach the network meanwhile (1,000 writes took 53-57 ms to ask).
  const [first, rest] = asked && write.length > FIRST_WRITES ? [write.slice(0, FIRST_WRITES), write.slice(FIRST_WRITES)] : [write, []];
  const puts = first.map((task) => store.put(task));
  asked?.();
  // Left out if the first failed: the transaction is over, and its error is the one to throw.
  const firstLanded = rest.length > 0 && (await puts[0]!.catch(() => null)) !== null;
  if (firstLanded) puts.push(...rest.map((task) => store.put(task)));
  await Promise.all([...puts, tx.done]);
  changed(sessionId, ids, tell);
  return write;
}

/**
 * Stores new tasks, but those whose identifier the session has already; returns the
 * identifiers refused.
 */
export async function storeNew(sessionId: string, tasks: TaskRecord[]): Promise<number[]> {
  const refused: number[] = [];
  const stored = await changeTasks(
    sessionId,
    [],
    (_, taken) => {
      for (const task of tasks) if (taken.has(task.taskIdentifier)) refused.push(task.taskIdentifier);
      return { write: tasks.filter((task) => !taken.has(task.taskIdentifier)), tell: false };
    },
    undefined,
    true,
  );
  if (stored.length > 0)
    changed(
      sessionId,
      stored.map((task) => task.taskIdentifier),
    );
  return refused;
}

/**
 * Moves a task to another state (with `changes`), if the lifecycle allows it and `when`
 * agrees; returns the task as it was before the move, or undefined if it did not move.
 */
export async function moveTask(
  sessionId: string,
  taskIdentifier: number,
  changes: Partial<TaskRecord> & { state: TaskState },
  when: (task: TaskRecord) => boolean = () => true,
): Promise<TaskRecord | undefined> {
  const tx = (await getDatabase()).transaction(['tasks', 'app'], 'readwrite');
  const store = tx.objectStore('tasks');
  const current = await store.get([sessionId, taskIdentifier]);
  if (!current || !canMove(current.state, changes.state) || !when(current)) return void (await tx.done);
  markWritten(tx);
  await Promise.all([store.put({ ...current, ...changes }), tx.done]);
  changed(sessionId, [taskIdentifier]);
  return current;
}

/**
 * Records a transfer's progress in its task (parts stored, bytes, validator, ...), if the
 * transfer still owns the task; with `tell`, tells the session's pages (else they see it at
 * their next look). Returns whether it was recorded.
 */
export async function saveTransfer(
  task: Pick<TaskRecord, 'sessionId' | 'taskIdentifier' | 'transferId'>,
  changes: Partial<TaskRecord>,
  tell: boolean | 'standby' = false,
): Promise<boolean> {
  const saved = await inBatch(async (tx) => {
    const tasks = tx.objectStore('tasks');
    const saved = await tasks.get([task.sessionId, task.taskIdentifier]);
    const ours = owns(saved, task.transferId);
    if (ours) await tasks.put({ ...saved!, ...changes });
    return ours;
  });
  if (saved) changed(task.sessionId, [task.taskIdentifier], tell);
  return saved;
}

/** Adds a transfer's requests to its task's (for its metrics), if the transfer still owns it. */
export async function keepTransactions(task: Pick<TaskRecord, 'sessionId' | 'taskIdentifier' | 'transferId'>, more: TransactionRecord[]): Promise<void> {
  await inBatch(async (tx) => {
    const tasks = tx.objectStore('tasks');
    const saved = await tasks.get([task.sessionId, task.taskIdentifier]);
    if (owns(saved, task.transferId)) await tasks.put({ ...saved, transactions: withTransactions(saved, more) });
  });
}
