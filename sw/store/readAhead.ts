/**
 * Sessions read ahead for the page about to re-create them. When a page of the app loads (a
 * navigation the worker sees, or `handleEventsForBackgroundURLSession`), each session with
 * events waiting is read then, and that page's `attach` takes the read rather than wait for
 * its own: with 1,000 tasks and 2,000 events waiting, the read is a third of the time to the
 * last event (bench/README.md, "Delivery: read ahead"). A read is taken only if no write of tasks or events
 * has begun since, by this worker or another: each such write renews the `written` mark.
 */
import type { TaskView } from '../../common/protocol.js';
import { taskView } from '../taskView.js';
import { getDatabase } from './database.js';
import { readSessionIn, type SessionRead } from './tasks.js';

/** How long a read ahead waits for its page: one that has not come by then may never come. */
const KEEP_MS = 10_000;

/** A session read ahead, with what pages get of its tasks (made while no page waits). */
export type SessionReadAhead = SessionRead & { views: TaskView[] };

interface Ahead {
  read: SessionReadAhead;
  /** The `written` mark when it was read. */
  mark: unknown;
}

const ahead = new Map<string, Promise<Ahead>>();

/**
 * Reads ahead `sessionIds`, each in place of any earlier read of it (which a write since may
 * have made stale). Never throws.
 */
export function readAhead(sessionIds: Iterable<string>): void {
  for (const sessionId of new Set(sessionIds)) readOne(sessionId);
}

function readOne(sessionId: string): void {
  const read = (async () => {
    const tx = (await getDatabase()).transaction(['tasks', 'events', 'app']);
    const [state, mark] = await Promise.all([readSessionIn(tx, sessionId), tx.objectStore('app').get('written')]);
    return { read: { ...state, views: state.tasks.map(taskView) }, mark };
  })();
  read.catch(() => undefined);
  ahead.set(sessionId, read);
  setTimeout(() => ahead.get(sessionId) === read && ahead.delete(sessionId), KEEP_MS);
}

/**
 * The read of `sessionId` made ahead, if there is one and nothing was written since; each read
 * is taken once (its records are the taker's to change).
 */
export async function takeReadAhead(sessionId: string): Promise<SessionReadAhead | undefined> {
  const read = ahead.get(sessionId);
  if (!read) return undefined;
  ahead.delete(sessionId);
  try {
    const [{ read: state, mark }, now] = await Promise.all([read, (await getDatabase()).get('app', 'written')]);
    return now === mark ? state : undefined;
  } catch {
    return undefined;
  }
}
