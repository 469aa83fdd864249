import { openDB, type IDBPDatabase } from 'idb';
import { DB_NAME, DB_VERSION, type RateLimiterState, type Schema, type TaskRecord } from '../common/schema.js';
import { NO_DELAY } from './rateLimiter.js';

let database: Promise<IDBPDatabase<Schema>> | undefined;

/** The library's database, opened once per worker life and upgraded by version. */
export function getDatabase(): Promise<IDBPDatabase<Schema>> {
  database ??= openDB<Schema>(DB_NAME, DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('sessions', { keyPath: 'identifier' });
        const tasks = db.createObjectStore('tasks', { keyPath: ['sessionId', 'taskIdentifier'] });
        tasks.createIndex('bySession', 'sessionId');
        tasks.createIndex('byEngineId', 'engineId');
        const events = db.createObjectStore('events', { keyPath: 'seq', autoIncrement: true });
        events.createIndex('bySession', 'sessionId');
      }
      if (oldVersion < 2) db.createObjectStore('app');
    },
    terminated() {
      database = undefined;
    },
  });
  return database;
}

/** One task, or undefined. */
export async function getTask(sessionId: string, taskIdentifier: number): Promise<TaskRecord | undefined> {
  return (await getDatabase()).get('tasks', [sessionId, taskIdentifier]);
}

/** The rate limiter's state. */
export async function getRateLimiter(): Promise<RateLimiterState> {
  return (await (await getDatabase()).get('app', 'rateLimiter')) ?? NO_DELAY;
}

/** Changes the rate limiter's state in one transaction. */
export async function updateRateLimiter(change: (state: RateLimiterState) => RateLimiterState): Promise<RateLimiterState> {
  const tx = (await getDatabase()).transaction('app', 'readwrite');
  const next = change((await tx.store.get('rateLimiter')) ?? NO_DELAY);
  await tx.store.put(next, 'rateLimiter');
  await tx.done;
  return next;
}
