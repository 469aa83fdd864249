import type { FetchOrder } from '../common/protocol.js';
import { callWorker } from './callWorker.js';
import type { SessionState } from './SessionState.js';

/** How many downloads a page going away hands over, at most (each is a registration of its own). */
const HAND_OVERS = 8;

/** How long a page that got `beforeunload` may stay in view before its registrations are aborted (it stayed). */
const STAY_MS = 5000;

/**
 * As the page goes away (hidden, or closed), it starts the standby orders and tells the
 * worker, which hands the streamed downloads to them if no other page of the app is visible.
 * Both calls are made before the handler returns (the registration is at hand, and `ready`
 * has resolved). A tab the user closes starts them at `beforeunload`: measured in Chromium,
 * a Background Fetch started there was created 20 times of 20, against 12 of 20 from the
 * `pagehide` of a tab closed by script, whose frame is often gone before the browser checks
 * the permission. A page whose message to the worker is lost leaves the registration for the
 * worker to adopt (see `adopt`). Shown again, the page looks at once (`look`): the worker
 * takes back what Background Fetch carries when a page is visible, and would otherwise wait
 * for the registration's next progress (seconds, in Chromium) to be asked.
 */
export function handOverOnHide(s: SessionState, registration: ServiceWorkerRegistration, look: (s: SessionState) => void): void {
  const manager = registration.backgroundFetch;
  if (!manager) return;
  /** Orders started, that the worker was not told of yet. */
  let started: FetchOrder[] | undefined;
  const start = (): FetchOrder[] => {
    if (started || s.replaced || s.standby.size === 0) return started ?? [];
    // The largest first: Chromium runs one registration at a time, and the rest stream on.
    const size = ({ options }: FetchOrder) => options.downloadTotal ?? Number.MAX_SAFE_INTEGER;
    started = [...s.standby.values()].sort((a, b) => size(b) - size(a)).slice(0, HAND_OVERS);
    s.standby.clear();
    for (const { transferId, requests, options } of started) {
      const request = requests.map((each) => new Request(each.url, each));
      manager.fetch(transferId, request, options).catch(() => undefined);
    }
    return started;
  };
  addEventListener('beforeunload', () => {
    start();
    // The unload may be called off (a dialog, a handler): a page still in view lets them go.
    setTimeout(() => {
      if (!started || document.visibilityState !== 'visible') return;
      for (const { transferId } of started) void manager.get(transferId).then((each) => each?.abort());
      started = undefined;
    }, STAY_MS);
  });
  // A closing page gets `pagehide` while still visible, and may get no `visibilitychange` after.
  const goAway = ({ type }: Event) => {
    if (type !== 'pagehide' && document.visibilityState === 'visible') {
      // All its tasks: the worker reads them all (and takes back) only now and then otherwise.
      s.stamp = undefined;
      return look(s);
    }
    const orders = start();
    started = undefined;
    if (orders.length === 0) return;
    const ids = orders.map(({ transferId }) => transferId);
    void callWorker('handOver', s.id, ids).catch(() => undefined);
  };
  addEventListener('visibilitychange', goAway);
  addEventListener('pagehide', goAway);
}
