/**
 * Small files' bytes, packed: the small files one batched write completes go into one record of
 * the `packs` store, and each file's task and event say where its bytes are (`PackPlace`).
 * Chromium's database spends most of its work on a small value per record rather than per byte,
 * and writes a value above 64 KiB (a Blob here) to a file of its own, at once (measured in
 * bench/README.md, "Many tasks: small files packed"). A pack goes once no event points to it.
 */
import type { PackPlace } from '../../common/schema.js';
import type { BatchTransaction } from './batch.js';
import { getDatabase } from './database.js';

/** Up to this size a pack is stored as bytes, in the database's own records (as Chromium keeps them). */
const INLINE_SIZE = 64 * 1024;

interface Pack {
  id: number;
  bodies: ArrayBuffer[];
  size: number;
}

/** By batched transaction, the pack its writes fill. */
const packs = new WeakMap<BatchTransaction, Pack>();

/**
 * Adds a small file's bytes to the pack of `tx`, stored when its writes are all asked for
 * (`commitWithPack`); returns where they will be. Call it with the writes that point to them, so
 * that no pack holds bytes nothing points to.
 */
export function packBody(tx: BatchTransaction, body: ArrayBuffer): PackPlace {
  let pack = packs.get(tx);
  if (!pack) packs.set(tx, (pack = { id: newPackId(), bodies: [], size: 0 }));
  const place = { pack: pack.id, offset: pack.size };
  pack.bodies.push(body);
  pack.size += body.byteLength;
  return place;
}

/**
 * Asks for the pack `tx`'s writes filled, if any, once they are all asked for (while `tx` is
 * active), and settles as `tx` ends: with the pack's failure if it has one, else the
 * transaction's. `add`, not `put`: two packs given one identifier fail the transaction, which
 * is then made again, rather than one taking the other's place.
 */
export function commitWithPack(tx: BatchTransaction): Promise<unknown> {
  const pack = packs.get(tx);
  if (!pack) return tx.done;
  packs.delete(tx);
  const value = pack.size > INLINE_SIZE ? new Blob(pack.bodies) : joined(pack.bodies, pack.size);
  try {
    return Promise.all([tx.objectStore('packs').add(value, pack.id), tx.done]);
  } catch (error) {
    return failed(tx, error);
  }
}

/**
 * The end of a transaction whose pack could not be asked for. The writes that point to the
 * pack must not be kept without it: the transaction is aborted, and fails with `error`
 * (then each write is made again alone, its file as bytes). One over already was ended by a
 * failed write, whose failure is the one to report (past the quota: `cannotWriteToFile`).
 */
function failed(tx: BatchTransaction, error: unknown): Promise<never> {
  try {
    tx.abort();
  } catch {
    return tx.done.then(() => Promise.reject(error));
  }
  return tx.done.then(
    () => Promise.reject(error),
    () => Promise.reject(error),
  );
}

/**
 * Deletes those of `ids` that no event points to any more; call it after the deletes of the
 * events delivered, in their transaction.
 */
export async function dropPacks(tx: BatchTransaction, ids: readonly number[]): Promise<void> {
  const events = tx.objectStore('events').index('byPack');
  await Promise.all(
    [...new Set(ids)].map(async (id) => {
      if ((await events.count(id)) === 0) await tx.objectStore('packs').delete(id);
    }),
  );
}

/**
 * A small file's bytes from its pack, read into memory (a Blob sliced from the pack's could
 * outlive the pack in one browser and not in another); undefined if the pack is gone.
 */
export async function packedFile(place: PackPlace, size: number): Promise<Blob | undefined> {
  const pack = await (await getDatabase()).get('packs', place.pack);
  if (pack === undefined) return undefined;
  const end = place.offset + size;
  return new Blob([pack instanceof Blob ? await pack.slice(place.offset, end).arrayBuffer() : pack.slice(place.offset, end)]);
}

/** A new pack's identifier: random, so that two workers (an update) writing at once do not meet. */
function newPackId(): number {
  return Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
}

/** `bodies` one after another, in one buffer. */
function joined(bodies: ArrayBuffer[], size: number): ArrayBuffer {
  if (bodies.length === 1) return bodies[0]!;
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const body of bodies) {
    bytes.set(new Uint8Array(body), at);
    at += body.byteLength;
  }
  return bytes.buffer;
}
