import { releaseProxy, wrap } from 'comlink';
import { CONNECT, receiveErrors, type ConnectMessage, type WorkerApi } from '../common/protocol.js';

type Method = keyof WorkerApi;

/**
 * Calls the service worker. Each call goes over its own MessageChannel, posted as a message
 * event: that event wakes a stopped worker and keeps it alive for the call, where a port kept
 * open across calls would silently die with the worker.
 */
export async function callWorker<M extends Method>(method: M, ...args: Parameters<WorkerApi[M]>): Promise<Awaited<ReturnType<WorkerApi[M]>>> {
  receiveErrors();
  const registration = await workerReady();
  const { port1, port2 } = new MessageChannel();
  const worker = registration.active!;
  worker.postMessage({ type: CONNECT } satisfies ConnectMessage, [port2]);
  const remote = wrap<WorkerApi>(port1);
  const done = new AbortController();
  const replaced = new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'redundant' && resolve(0), done));
  try {
    const call = remote[method] as unknown as (...a: unknown[]) => Promise<Awaited<ReturnType<WorkerApi[M]>>>;
    const result = (await Promise.race([call(...args), replaced])) as Awaited<ReturnType<WorkerApi[M]>>;
    // A worker replaced by a new version mid-call never answers (Firefox ends it at once): the
    // call is made again, to the new one.
    return worker.state === 'redundant' ? callWorker(method, ...args) : result;
  } finally {
    done.abort();
    void remote[releaseProxy]();
  }
}

/** How long a call waits for a worker before it looks whether any covers the page. */
const READY_WAIT_MS = 3000;

/**
 * The registration whose worker answers this page. `navigator.serviceWorker.ready` waits for
 * ever where no registration's scope covers the page (a worker served from `/assets/`, as a
 * bundler's `?url` import puts it): then the call fails, saying so, within seconds.
 */
async function workerReady(): Promise<ServiceWorkerRegistration> {
  const { serviceWorker } = navigator;
  const later = new Promise<undefined>((resolve) => setTimeout(resolve, READY_WAIT_MS));
  const ready = await Promise.race([serviceWorker.ready, later]);
  if (ready) return ready;
  // A registration that covers the page but is still installing is waited for.
  if (await serviceWorker.getRegistration()) return serviceWorker.ready;
  throw new DOMException(
    `No service worker covers ${location.href}: register the library's worker with a scope that includes this page (serve it from the site's root, or send Service-Worker-Allowed)`,
    'InvalidStateError',
  );
}
