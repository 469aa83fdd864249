import { openDB, type IDBPDatabase } from 'idb';
import { DB_NAME, DB_VERSION, type Schema, type TaskRecord } from '../common/schema.js';

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
