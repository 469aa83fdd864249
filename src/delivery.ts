import type { SessionState } from './SessionState.js';

/**
 * The event delivery's code (`EventDelivery.ts`), as the rest of the page calls it: it loads
 * with the session, beside the connection to the worker, and not when the library is imported.
 */
export const delivery = () => import('./EventDelivery.js');

/** A drain no one waits for (see `EventDelivery.refresh`). */
export function refresh(s: SessionState): void {
  delivery().then(({ refresh }) => refresh(s), reportError);
}
