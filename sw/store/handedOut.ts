/**
 * Which events were handed out to pages: an acknowledge deletes no event above the highest
 * handed out, so that a page (buggy or hostile) may not delete events it never got.
 */
import type { EventRecord } from '../../common/schema.js';
import { inBatch, type BatchTransaction } from './batch.js';

/**
 * By session, the highest event seq handed out to pages, as far as this worker life knows: an
 * acknowledge within it needs no read of the store.
 */
const handedOut = new Map<string, number>();

/** The highest seq of `events` (0 for none). */
function highest(events: readonly EventRecord[]): number {
  return events.reduce((seq, event) => Math.max(seq, event.seq), 0);
}

/**
 * Records that a session's `events` are handed out to a page, before it gets them. Written only
 * when the highest rises, in the store too, so that a page's acknowledge after the worker was
 * stopped and started again still deletes what it got.
 */
export async function handOut(sessionId: string, events: readonly EventRecord[]): Promise<void> {
  const seq = highest(events);
  if (seq <= (handedOut.get(sessionId) ?? 0)) return;
  // Not stored (no room): this life still counts it, where failing the snapshot would stop
  // the very deliveries that free room (after a restart, such events may come twice).
  counted(sessionId, await inBatch((tx) => handOutIn(tx, sessionId, events)).catch(() => seq));
}

/**
 * `handOut`'s write, in a batched transaction of the caller's (which then fails as a whole if
 * there is no room for it). Returns the highest seq handed out, for `counted` once committed.
 */
export async function handOutIn(tx: BatchTransaction, sessionId: string, events: readonly EventRecord[]): Promise<number> {
  const seq = highest(events);
  if (seq <= (handedOut.get(sessionId) ?? 0)) return seq;
  const store = tx.objectStore('handedOut');
  // Another snapshot (or worker life) may have stored more: the bound only rises.
  const stored = (await store.get(sessionId)) ?? 0;
  if (seq > stored) await store.put(seq, sessionId);
  return Math.max(seq, stored);
}

/** Counts the session's events up to `seq` as handed out, in this worker life. */
export function counted(sessionId: string, seq: number): void {
  handedOut.set(sessionId, Math.max(seq, handedOut.get(sessionId) ?? 0));
}

/**
 * `seq` if the session's events up to it were handed out, else the highest handed out.
 */
export async function ackBound(tx: BatchTransaction, sessionId: string, seq: number): Promise<number> {
  const known = handedOut.get(sessionId) ?? 0;
  if (seq <= known) return seq;
  // Above this life's count: handed out by an earlier life, or never (read once, then kept).
  const stored = Math.max(known, (await tx.objectStore('handedOut').get(sessionId)) ?? 0);
  handedOut.set(sessionId, stored);
  return Math.min(seq, stored);
}
