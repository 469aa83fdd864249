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
  registration.active!.postMessage({ type: CONNECT } satisfies ConnectMessage, [port2]);
  const remote = wrap<WorkerApi>(port1);
  try {
    const call = remote[method] as unknown as (...a: unknown[]) => Promise<Awaited<ReturnType<WorkerApi[M]>>>;
    return await call(...args);
  } finally {
    void remote[releaseProxy]();
  }
}
