import type { FetchOrder } from '../common/protocol.js';
import type { SessionState } from './SessionState.js';

/**
 * The page's half of Background Fetch (`BackgroundFetchOrders.ts`), as the rest of the page
 * calls it: its code loads with the first order to carry out or registration to watch, which
 * only a browser with Background Fetch has.
 */
const orders = () => import('./BackgroundFetchOrders.js');

/** Starts the Background Fetches the worker ordered (see `BackgroundFetchOrders.carryOut`). */
export async function carryOut(s: SessionState, ordered: FetchOrder[]): Promise<void> {
  if (ordered.length > 0) await (await orders()).carryOut(s, ordered);
}

/** Reports a Background Fetch's progress while this page is open (see `BackgroundFetchOrders.watch`). */
export function watch(s: SessionState, taskIdentifier: number, transferId: string, received?: number): void {
  orders().then(({ watch }) => watch(s, taskIdentifier, transferId, undefined, received), reportError);
}
