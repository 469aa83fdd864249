import { releaseProxy, wrap, type Remote } from 'comlink';
import { receiveErrors } from '../common/errorTransfer.js';
import { CONNECT, type ConnectMessage, type WorkerApi } from '../common/protocol.js';

type Method = keyof WorkerApi;
type Answer<M extends Method> = Awaited<ReturnType<WorkerApi[M]>>;

/** How long a call goes unanswered before the page asks the worker whether it still runs it. */
const CHECK_MS = 4000;

/** How many times a call is made to workers that stopped (or were replaced) before it fails. */
const ATTEMPTS = 3;

/** A call whose worker stopped or was replaced before it answered. */
const LOST = Symbol('lost');

/**
 * Calls the service worker. Each call goes over its own MessageChannel, posted as a message
 * event: that event wakes a stopped worker and keeps it alive for the call, where a port kept
 * open across calls would silently die with the worker. A worker may still stop mid-call (or
 * be replaced by a new version): then no answer ever comes, and the call is made again.
 */
export async function callWorker<M extends Method>(method: M, ...args: Parameters<WorkerApi[M]>): Promise<Answer<M>> {
  receiveErrors();
  for (let attempt = 1; ; attempt++) {
    const answer = await callOnce((await workerReady()).active!, method, args);
    if (answer !== LOST) return answer;
    if (attempt === ATTEMPTS) throw new DOMException(`The service worker stopped ${ATTEMPTS} times during ${method}()`, 'AbortError');
  }
}

/** Makes one call, over a port of its own; LOST if the worker that took it went. */
async function callOnce<M extends Method>(worker: ServiceWorker, method: M, args: unknown[]): Promise<Answer<M> | typeof LOST> {
  const done = new AbortController();
  const call = crypto.randomUUID();
  const remote = connect(worker, call);
  // Firefox ends a worker replaced by a new version at once, mid-call.
  const replaced = new Promise<typeof LOST>((resolve) => worker.addEventListener('statechange', () => worker.state === 'redundant' && resolve(LOST), done));
  try {
    const answer = (remote[method] as unknown as (...a: unknown[]) => Promise<Answer<M>>)(...args);
    return await Promise.race([answer, replaced, stopped(worker, call, done.signal)]);
  } finally {
    done.abort();
    void remote[releaseProxy]();
  }
}

/** A Comlink proxy of the worker's API, over a new port; `call` names the call, if given. */
function connect(worker: ServiceWorker, call?: string): Remote<WorkerApi> {
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ type: CONNECT, call } satisfies ConnectMessage, [port2]);
  return wrap<WorkerApi>(port1);
}

/**
 * Resolves LOST once the worker says it never had call `call`: the worker that took it
 * stopped. Asked every CHECK_MS while the call goes unanswered (a call may take long).
 */
async function stopped(worker: ServiceWorker, call: string, signal: AbortSignal): Promise<typeof LOST> {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, CHECK_MS));
    if (signal.aborted) return new Promise(() => {});
    const remote = connect(worker);
    const state = await Promise.race([remote.callState(call).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, CHECK_MS))]);
    void remote[releaseProxy]();
    if (state === 'unknown') return LOST;
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
