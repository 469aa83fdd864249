/**
 * Which tasks each session has changed, so that a page's drain reads only those: with many
 * tasks, every page read every task on every `changed` notice, and those reads (and the
 * page's work on them) took much of the time of 1,000 small downloads. Kept in memory for the
 * worker's life: a stamp from another life (the worker stopped meanwhile) gets every task.
 */

/** This worker life's own prefix of stamps. */
const life = Math.random().toString(36).slice(2);
let clock = 0;
/** By session, the clock of each task's last change (a deleted task's too). */
const changes = new Map<string, Map<number, number>>();

/**
 * Notes that tasks of a session were written (or deleted). Call it after the write committed:
 * a read that began before then still counts the change as new.
 */
export function touch(sessionId: string, taskIdentifiers: Iterable<number>): void {
  clock++;
  let session = changes.get(sessionId);
  if (!session) changes.set(sessionId, (session = new Map()));
  for (const id of taskIdentifiers) session.set(id, clock);
}

/** A stamp for what is written now; take it before reading the records it stands for. */
export function stampNow(): string {
  return `${life}:${clock}`;
}

/**
 * The tasks of a session changed after `stamp`, or undefined if the stamp is not of this
 * worker life (or none): then every task must be read.
 */
export function changedSince(sessionId: string, stamp: unknown): number[] | undefined {
  if (typeof stamp !== 'string') return undefined;
  const [of, at] = stamp.split(':');
  if (of !== life) return undefined;
  const since = Number(at);
  const changed: number[] = [];
  for (const [id, when] of changes.get(sessionId) ?? []) if (when > since) changed.push(id);
  return changed;
}
