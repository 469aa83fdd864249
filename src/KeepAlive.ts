import type { SessionState } from './SessionState.js';

/** How often a page calls the worker while the streaming engine runs one of its tasks. */
const KEEP_ALIVE_MS = 5000;

/**
 * Calls `tick(s)` (which calls the worker) every few seconds while one of the session's tasks
 * runs, else stops; called at each change of the tasks.
 */
export function keepAlive(s: SessionState, tick: (s: SessionState) => void): void {
  // A transfer of the streaming engine lives only as long as the worker, a task waiting for
  // its earliestBeginDate starts at a wake, and a Background Fetch's finished ranges are
  // stored while the worker lives: while a task runs, the page calls the worker now and
  // then, which keeps it alive, revives it if it died, and starts what is due.
  const streaming = [...s.tasks.values()].some(({ state, record }) => state === 'running' && record?.state === 'running');
  // (Set again at each change: the worker was called just now.)
  clearInterval(s.keepAlive);
  s.keepAlive = streaming && !s.replaced ? setInterval(tick, KEEP_ALIVE_MS, s) : undefined;
}
