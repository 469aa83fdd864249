import { releaseProxy, wrap } from 'comlink';
import { CONNECT, receiveErrors, type ConnectMessage, type WorkerApi } from '../common/protocol.js';

type Method = keyof WorkerApi;

/**
 * Calls the service worker. Each call goes over its own MessageChannel, posted as a message
 * event: that event wakes a stopped worker and keeps it alive for the call, where a port kept
 * open across calls would silently die with the worker.
 */
export async function callWorker<M extends Method>(
  method: M,
  ...args: Parameters<WorkerApi[M]>
): Promise<Awaited<ReturnType<WorkerApi[M]>>> {
  receiveErrors();
  const registration = await navigator.serviceWorker.ready;
  const { port1, port2 } = new MessageChannel();
  const worker = registration.active!;
  worker.postMessage({ type: CONNECT } satisfies ConnectMessage, [port2]);
  const remote = wrap<WorkerApi>(port1);
  // A worker replaced by a new version mid-call never answers (Firefox ends it at once): the
  // call fails instead of hanging, and the caller's next call goes to the new worker.
  let replaced!: () => void;
  const gone = new Promise<never>((_, reject) => {
    replaced = () => worker.state === 'redundant' && reject(new DOMException(`The service worker was replaced during ${method}()`, 'AbortError'));
    worker.addEventListener('statechange', replaced);
  });
  gone.catch(() => undefined);
  try {
    const call = remote[method] as unknown as (...a: unknown[]) => Promise<Awaited<ReturnType<WorkerApi[M]>>>;
    return await Promise.race([call(...args), gone]);
  } finally {
    worker.removeEventListener('statechange', replaced);
    void remote[releaseProxy]();
  }
}
