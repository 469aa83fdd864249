import type { FetchOrder, SessionSnapshot } from '../common/protocol.js';
import { callWorker } from './connection.js';
import type { SessionState } from './SessionState.js';

/** How many downloads a page going away hands over, at most (each is a registration of its own). */
const HAND_OVERS = 8;

/** Keeps a snapshot's standby orders, one per streamed download (see `SessionSnapshot.standby`). */
export function keepStandby(s: SessionState, { tasks, gone, standby }: SessionSnapshot): void {
  for (const { taskIdentifier } of tasks) s.standby.delete(taskIdentifier);
  for (const taskIdentifier of gone ?? []) s.standby.delete(taskIdentifier);
  for (const order of standby ?? []) s.standby.set(order.tasks[0]!.taskIdentifier, order);
}

/**
 * As the page goes away (hidden, or closed), it starts the standby orders and tells the
 * worker, which hands the streamed downloads to them if no other page of the app is visible.
 * Both calls are made before the handler returns (the registration is at hand, and `ready`
 * has resolved): measured in Chromium, a Background Fetch started so from `pagehide` or
 * `visibilitychange` was created 12 times of 12.
 */
export function handOverOnHide(s: SessionState, registration: ServiceWorkerRegistration): void {
  // A closing page gets `pagehide` while still visible, and may get no `visibilitychange` after.
  const goAway = ({ type }: Event) => {
    const manager = registration.backgroundFetch;
    if ((type !== 'pagehide' && document.visibilityState === 'visible') || s.replaced || !manager || s.standby.size === 0) return;
    // The largest first: Chromium runs one registration at a time, and the rest stream on.
    const size = ({ options }: FetchOrder) => options.downloadTotal ?? Number.MAX_SAFE_INTEGER;
    const orders = [...s.standby.values()].sort((a, b) => size(b) - size(a)).slice(0, HAND_OVERS);
    s.standby.clear();
    for (const { transferId, requests, options } of orders) {
      manager
        .fetch(
          transferId,
          requests.map((each) => new Request(each.url, each)),
          options,
        )
        .catch(() => undefined);
    }
    void callWorker(
      'handOver',
      s.id,
      orders.map(({ transferId }) => transferId),
    ).catch(() => undefined);
  };
  addEventListener('visibilitychange', goAway);
  addEventListener('pagehide', goAway);
}
