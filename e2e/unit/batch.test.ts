import 'fake-indexeddb/auto';
import { expect, test } from '@playwright/test';
import { getDatabase } from '../../sw/store/database.js';
import { inBatch, type BatchTransaction } from '../../sw/store/batch.js';

/**
 * A write as a completion makes it, of `bytes` bytes; one over `room` aborts the transaction it
 * is in, as a QuotaExceededError does (the browser cannot be made to fail one write of several
 * on demand: Chromium checks IndexedDB against the quota it last read, for up to 30 s).
 */
function write(key: string, bytes: number, room: number) {
  return async (tx: BatchTransaction) => {
    await tx.objectStore('bodies').put(new ArrayBuffer(bytes), [key, 1]);
    if (bytes > room) tx.abort();
    return key;
  };
}

test('one write that aborts the shared transaction fails alone: the writes batched with it are committed', async () => {
  const room = 1024;
  const writes = ['a', 'b', 'c', 'd'].map((key) => inBatch(write(key, key === 'c' ? 4096 : 16, room)));
  const settled = await Promise.allSettled(writes);
  expect(settled.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  const db = await getDatabase();
  const kept = await Promise.all(['a', 'b', 'c', 'd'].map(async (key) => (await db.get('bodies', [key, 1]))?.byteLength ?? null));
  expect(kept).toEqual([16, 16, null, 16]);
});

test('a write that throws fails alone, in a transaction that commits the others', async () => {
  const writes = [inBatch(write('e', 8, 64)), inBatch(() => Promise.reject(new TypeError('not this one'))), inBatch(write('f', 8, 64))];
  const settled = await Promise.allSettled(writes);
  expect(settled.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(await (await getDatabase()).count('bodies')).toBeGreaterThanOrEqual(2);
});
