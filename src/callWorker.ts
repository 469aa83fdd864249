import type { WorkerApi } from '../common/protocol.js';
import type * as Connection from './connection.js';

type Method = keyof WorkerApi;

/** The connection's code (Comlink, and the calls' retries), once loaded. */
let connection: typeof Connection | undefined;
let loading: Promise<typeof Connection> | undefined;

/**
 * Calls the service worker (see `connection.ts`). The connection's code loads at the first
 * call: an app pays for it when it makes a session, not when it imports the library. Once
 * loaded, a call goes out at once, as a page going away (`pagehide`) needs.
 */
export function callWorker<M extends Method>(method: M, ...args: Parameters<WorkerApi[M]>): ReturnType<typeof Connection.callWorker<M>> {
  if (connection) return connection.callWorker(method, ...args);
  // A chunk that failed to load (offline, a new deployment) is tried again at the next call.
  loading ??= import('./connection.js').then(
    (loaded) => (connection = loaded),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading.then((loaded) => loaded.callWorker(method, ...args));
}
