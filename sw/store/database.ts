import { openDB, type IDBPDatabase, type IDBPObjectStore, type StoreNames } from 'idb';
import { DB_NAME, DB_VERSION, type RateLimiterState, type Schema, type TaskRecord } from '../../common/schema.js';
import { NO_DELAY } from '../rateLimiter.js';
import { upgradeResponse } from '../responseRecord.js';

let database: Promise<IDBPDatabase<Schema>> | undefined;

/** The library's database, opened once per worker life and upgraded by version. */
export function getDatabase(): Promise<IDBPDatabase<Schema>> {
  database ??= openDB<Schema>(DB_NAME, DB_VERSION, {
    upgrade(db, oldVersion, _newVersion, transaction) {
      if (oldVersion < 1) {
        db.createObjectStore('sessions', { keyPath: 'identifier' });
        const tasks = db.createObjectStore('tasks', { keyPath: ['sessionId', 'taskIdentifier'] });
        tasks.createIndex('bySession', 'sessionId');
        const events = db.createObjectStore('events', { keyPath: 'seq', autoIncrement: true });
        events.createIndex('bySession', 'sessionId');
      }
      if (oldVersion < 2) db.createObjectStore('app');
      if (oldVersion < 4) db.createObjectStore('bodies');
      // Version 5: the transfer that owns a task is its `transferId` (was `engineId`).
      if (oldVersion < 5) indexTransferId(transaction.objectStore('tasks'));
      // Version 6: what was handed out bounds an acknowledge (`handedOut`).
      if (oldVersion < 6) void fillHandedOut(db.createObjectStore('handedOut'), transaction.objectStore('events'));
      // Version 8: small files' bytes in packs, which their events point to.
      if (oldVersion < 8) {
        db.createObjectStore('packs');
        transaction.objectStore('events').createIndex('byPack', 'download.inPack.pack');
      }
      // Versions 3, 5 and 7 changed the task record.
      if (oldVersion >= 1 && oldVersion < 7) void upgradeTasks(transaction.objectStore('tasks'));
      // An upgrade may rewrite tasks: a read made before it (by an older worker) is not current.
      void transaction.objectStore('app').put(Math.random(), 'written');
    },
    // A newer version of the library (a new worker) is upgrading the database: this connection
    // steps aside rather than hold the upgrade up until this worker ends.
    blocking() {
      void database?.then((db) => db.close());
      database = undefined;
    },
    terminated() {
      database = undefined;
    },
  });
  return database;
}

/** A read-write transaction that has the `app` store. */
interface AppWrites {
  objectStore(name: 'app'): { put(value: number, key: 'written'): Promise<unknown> };
}

/**
 * Renews the `written` mark in a transaction that writes tasks or events: a read of them made
 * before it commits (by this worker or another) is then no longer taken as current.
 */
export function markWritten(tx: AppWrites): void {
  // Not awaited: it settles with the transaction, and a failed put fails the whole of it.
  tx.objectStore('app')
    .put(Math.random(), 'written')
    .catch(() => undefined);
}

type TaskStore = IDBPObjectStore<Schema, ArrayLike<StoreNames<Schema>>, 'tasks', 'versionchange'>;

/** Indexes tasks by `transferId` (the index was `byEngineId` before version 5). */
function indexTransferId(tasks: TaskStore): void {
  const untyped = tasks as unknown as TaskStore & { deleteIndex(name: string): void };
  if (untyped.indexNames.contains('byEngineId' as 'byTransfer')) untyped.deleteIndex('byEngineId');
  tasks.createIndex('byTransfer', 'transferId');
}

/**
 * Brings each task stored by an older version to this one's record: its response as
 * `upgradeResponse` makes it (versions 3 and 7), its `engineId` named `transferId` (version 5).
 * One pass: two cursors would each write back the record as they read it, undoing the other.
 */
async function upgradeTasks(tasks: TaskStore): Promise<void> {
  for (let cursor = await tasks.openCursor(); cursor; cursor = await cursor.continue()) {
    const { engineId, ...task } = cursor.value as TaskRecord & { engineId?: string | null };
    const transferId = engineId !== undefined ? { transferId: engineId } : {};
    await cursor.update({ ...task, ...transferId, response: task.response && upgradeResponse(task.response) });
  }
}

/**
 * Counts the events waiting from before version 6 as handed out: which of them a page got was
 * not recorded, and a page's acknowledge of one must still delete it, not bring it again.
 */
async function fillHandedOut(
  handedOut: IDBPObjectStore<Schema, ArrayLike<StoreNames<Schema>>, 'handedOut', 'versionchange'>,
  events: IDBPObjectStore<Schema, ArrayLike<StoreNames<Schema>>, 'events', 'versionchange'>,
): Promise<void> {
  const highest = new Map<string, number>();
  // In seq order: each session's last event seen is its highest.
  for (let cursor = await events.openCursor(); cursor; cursor = await cursor.continue()) highest.set(cursor.value.sessionId, cursor.key);
  await Promise.all([...highest].map(([sessionId, seq]) => handedOut.put(seq, sessionId)));
}

/** One task, or undefined. */
export async function getTask(sessionId: string, taskIdentifier: number): Promise<TaskRecord | undefined> {
  return (await getDatabase()).get('tasks', [sessionId, taskIdentifier]);
}

/**
 * The rate limiter's state as last read or written by this worker (only the worker writes it):
 * every drain of a page looks at it, and a read of its own each time added a transaction.
 */
let rateLimiter: RateLimiterState | undefined;

/** The rate limiter's state. */
export async function getRateLimiter(): Promise<RateLimiterState> {
  rateLimiter ??= ((await (await getDatabase()).get('app', 'rateLimiter')) as RateLimiterState | undefined) ?? NO_DELAY;
  return rateLimiter;
}

/** Changes the rate limiter's state in one transaction. */
export async function updateRateLimiter(change: (state: RateLimiterState) => RateLimiterState): Promise<RateLimiterState> {
  const tx = (await getDatabase()).transaction('app', 'readwrite');
  const next = change(((await tx.store.get('rateLimiter')) as RateLimiterState | undefined) ?? NO_DELAY);
  await tx.store.put(next, 'rateLimiter');
  await tx.done;
  rateLimiter = next;
  return next;
}
