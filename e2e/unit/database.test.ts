import 'fake-indexeddb/auto';
import { expect, test } from '@playwright/test';
import { DB_NAME, DB_VERSION } from '../../common/schema.js';
import { getDatabase } from '../../sw/store/database.js';

const pairs: [string, string][] = [
  ['accept-ranges', 'bytes'],
  ['content-length', '16384'],
  ['content-type', 'video/mp4'],
];

/** A task as version `version` stored it (with what tests look at). */
function olderTask(version: number, taskIdentifier: number) {
  const response = { url: 'https://cdn.example/a.mp4', status: 200, statusText: 'OK', headers: pairs };
  return {
    sessionId: 's',
    taskIdentifier,
    state: 'completed',
    originalRequest: { url: 'https://cdn.example/a.mp4', method: 'GET', headers: [] },
    response: version < 3 ? response : { ...response, expectedContentLength: 16384, mimeType: 'video/mp4' },
    ...(version < 5 ? { engineId: 'bgdl:old' } : { transferId: 'bgdl:old' }),
  };
}

/** Makes the database as version `version` left it, with `tasks` stored. */
async function storeAt(version: number, tasks: object[]): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, version);
    request.onupgradeneeded = () => {
      const db = request.result;
      const store = db.createObjectStore('tasks', { keyPath: ['sessionId', 'taskIdentifier'] });
      store.createIndex('bySession', 'sessionId');
      store.createIndex(version < 5 ? 'byEngineId' : 'byTransfer', version < 5 ? 'engineId' : 'transferId');
      db.createObjectStore('events', { keyPath: 'seq', autoIncrement: true }).createIndex('bySession', 'sessionId');
      db.createObjectStore('sessions', { keyPath: 'identifier' });
      db.createObjectStore('app');
      if (version >= 4) db.createObjectStore('bodies');
      if (version >= 6) db.createObjectStore('handedOut');
      for (const task of tasks) store.put(task);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
}

async function deleteDatabase(): Promise<void> {
  await new Promise((resolve) => Object.assign(indexedDB.deleteDatabase(DB_NAME), { onsuccess: resolve, onerror: resolve, onblocked: resolve }));
}

for (const version of [2, 4, 6]) {
  test(`tasks stored by version ${version} are upgraded in one pass: headers as text, length and type, transferId`, async () => {
    await deleteDatabase();
    await storeAt(
      version,
      [1, 2, 3].map((id) => olderTask(version, id)),
    );
    const db = await getDatabase();
    expect(db.version).toBe(DB_VERSION);
    const tasks = await db.getAll('tasks');
    expect(tasks).toHaveLength(3);
    for (const task of tasks) {
      expect(task.response).toEqual({
        url: 'https://cdn.example/a.mp4',
        status: 200,
        statusText: 'OK',
        headers: JSON.stringify(pairs),
        expectedContentLength: 16384,
        mimeType: 'video/mp4',
      });
      expect(task.transferId).toBe('bgdl:old');
      expect(task).not.toHaveProperty('engineId');
    }
    expect(await db.getAllFromIndex('tasks', 'byTransfer', 'bgdl:old')).toHaveLength(3);
    // Left open: the next test's delete asks the worker's connection to step aside, as a new version would.
  });
}

test('a database of version 7 gets the packs of small files, and keeps the files stored one by one', async () => {
  await deleteDatabase();
  await storeAt(7, []);
  const old = await new Promise<IDBDatabase>((resolve) =>
    Object.assign(indexedDB.open(DB_NAME, 7), { onsuccess: (event: Event) => resolve((event.target as IDBOpenDBRequest).result) }),
  );
  await new Promise((resolve) =>
    Object.assign(old.transaction('bodies', 'readwrite').objectStore('bodies').put(new ArrayBuffer(8), ['s', 1]), { onsuccess: resolve }),
  );
  old.close();
  const db = await getDatabase();
  expect(db.version).toBe(DB_VERSION);
  expect(db.objectStoreNames.contains('packs')).toBe(true);
  expect([...db.transaction('events').store.indexNames]).toEqual(['byPack', 'bySession']);
  expect((await db.get('bodies', ['s', 1]))?.byteLength).toBe(8);
});
