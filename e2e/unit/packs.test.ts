import 'fake-indexeddb/auto';
import { expect, test } from '@playwright/test';
import type { EventRecord, PackPlace } from '../../common/schema.js';
import { inBatch } from '../../sw/store/batch.js';
import { getDatabase } from '../../sw/store/database.js';
import { handOut } from '../../sw/store/handedOut.js';
import { packBody, packedFile } from '../../sw/store/packs.js';

/** The outbox, by a path tsc does not follow (see keyRuns.test.ts). */
const OUTBOX = '../../sw/store/outbox.js';
const { acknowledge } = (await import(OUTBOX)) as { acknowledge(sessionId: string, seq: number): Promise<void> };

let sessions = 0;

/** `size` bytes, each its index plus `seed`. */
function bytes(size: number, seed: number): ArrayBuffer {
  return Uint8Array.from({ length: size }, (_, index) => (index + seed) % 256).buffer;
}

/**
 * Completes small files of `sizes` in one batched write of `sessionId`, as `completeTask` does: each
 * file's bytes packed, its completion pointing to them. Returns the events and the places.
 */
async function complete(sessionId: string, sizes: number[], from = 1): Promise<{ events: EventRecord[]; places: PackPlace[] }> {
  // While a write is under way, those asked for meanwhile queue, and then go together.
  const underWay = inBatch((tx) => tx.objectStore('app').get('written'));
  const done = await Promise.all(
    sizes.map((size, index) =>
      inBatch(async (tx) => {
        const taskIdentifier = from + index;
        const inPack = packBody(tx, bytes(size, taskIdentifier));
        const event = { type: 'didCompleteWithError', taskIdentifier, error: null, download: { size, parts: 0, inPack }, sessionId } as EventRecord;
        return { event: { ...event, seq: await tx.objectStore('events').add(event) }, inPack };
      }),
    ),
  );
  await underWay;
  return { events: done.map(({ event }) => event), places: done.map(({ inPack }) => inPack) };
}

async function packCount(): Promise<number> {
  return (await getDatabase()).count('packs');
}

test('the small files one batched write completes share one pack, each read back as it was', async () => {
  const sessionId = `packs-${++sessions}`;
  const before = await packCount();
  const { places } = await complete(sessionId, [1000, 3000, 24]);
  expect(new Set(places.map((place) => place.pack)).size).toBe(1);
  expect(places.map((place) => place.offset)).toEqual([0, 1000, 4000]);
  expect(await packCount()).toBe(before + 1);
  for (const [index, size] of [1000, 3000, 24].entries()) {
    const file = await packedFile(places[index]!, size);
    expect(new Uint8Array(await file!.arrayBuffer())).toEqual(new Uint8Array(bytes(size, index + 1)));
  }
});

test('a pack stays until the last event that points to it is delivered, of any session', async () => {
  const [one, two] = [`packs-${++sessions}`, `packs-${++sessions}`];
  const before = await packCount();
  // One batch: two files of one session, one of another.
  const [a, b] = await Promise.all([complete(one, [100, 200]), complete(two, [300], 7)]);
  expect(new Set([...a.places, ...b.places].map((place) => place.pack)).size).toBe(1);
  await handOut(one, a.events);
  await handOut(two, b.events);

  await acknowledge(one, a.events[0]!.seq);
  expect(await packCount()).toBe(before + 1);
  await acknowledge(one, a.events[1]!.seq);
  // The other session's file is still to be delivered, from the same pack.
  expect(await packCount()).toBe(before + 1);
  expect(new Uint8Array(await (await packedFile(b.places[0]!, 300))!.arrayBuffer())).toEqual(new Uint8Array(bytes(300, 7)));
  await acknowledge(two, b.events[0]!.seq);
  expect(await packCount()).toBe(before);
  expect(await packedFile(b.places[0]!, 300)).toBeUndefined();
});

test('a write that fails its batch fails with its own error; the others are made again, their files packed', async () => {
  const sessionId = `packs-${++sessions}`;
  const underWay = inBatch((tx) => tx.objectStore('app').get('written'));
  const failing = inBatch(async (tx) => {
    packBody(tx, bytes(10, 1));
    // The second add of one key fails, and aborts the transaction: its error (fake-indexeddb
    // gives the transaction's as an AbortError), not the pack's that cannot be stored after.
    const session = { identifier: `twice-${sessionId}` } as never;
    await tx.objectStore('sessions').add(session);
    await tx.objectStore('sessions').add(session);
  });
  const [{ places, events }] = await Promise.all([
    complete(sessionId, [100], 5),
    expect(failing.catch((error: Error) => error.name)).resolves.toMatch(/^(ConstraintError|AbortError)$/),
    underWay,
  ]);
  expect(new Uint8Array(await (await packedFile(places[0]!, 100))!.arrayBuffer())).toEqual(new Uint8Array(bytes(100, 5)));
  expect(events).toHaveLength(1);
});

test('a pack that cannot be stored keeps none of the writes that point to it', async () => {
  const sessionId = `packs-${++sessions}`;
  const underWay = inBatch((tx) => tx.objectStore('app').get('written'));
  // Bytes the database cannot clone: asking for the pack throws at once.
  const refused = inBatch(async (tx) => {
    const inPack = packBody(tx, (() => undefined) as unknown as ArrayBuffer);
    const event = { type: 'didCompleteWithError', taskIdentifier: 1, error: null, download: { size: 0, parts: 0, inPack }, sessionId } as EventRecord;
    return tx.objectStore('events').add(event);
  });
  await Promise.all([expect(refused).rejects.toHaveProperty('name', 'DataCloneError'), underWay]);
  const events = await (await getDatabase()).getAll('events');
  expect(events.filter((event) => event.sessionId === sessionId)).toEqual([]);
});
