import { serializeError } from '../common/errors.js';
import type { WorkerApi } from '../common/protocol.js';
import { quote } from '../common/quote.js';

/**
 * What may reach the worker's methods through a call's port: Comlink's `APPLY` of one of the
 * API's own methods with plain arguments, and its `RELEASE`. Anything else Comlink would carry
 * out (a `GET` or `SET` along any path, `__proto__` included; a `CONSTRUCT`; an `ENDPOINT`; an
 * argument that is a proxy back to the page) is answered with a TypeError, under its call id
 * so that the caller does not wait for ever.
 */
export function isAllowedCall(data: unknown, api: WorkerApi): boolean {
  if (typeof data !== 'object' || data === null) return false;
  const { type, path, argumentList } = data as { type?: unknown; path?: unknown; argumentList?: unknown };
  if (type === 'RELEASE') return true;
  if (type !== 'APPLY' || !Array.isArray(path) || path.length !== 1 || typeof path[0] !== 'string') return false;
  if (!Object.hasOwn(api, path[0])) return false;
  const plain = (value: unknown) => typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'RAW';
  return argumentList === undefined || (Array.isArray(argumentList) && argumentList.every(plain));
}

/** Comlink's answer to call `id`: the error, thrown on the caller's side. */
function thrown(id: unknown, error: Error): unknown {
  return { id, type: 'HANDLER', name: 'throw', value: serializeError(error) };
}

/**
 * The call's port as Comlink's endpoint, letting through only the calls `isAllowedCall` allows;
 * the others are answered with a TypeError that quotes them.
 */
export function guardedPort(port: MessagePort, api: WorkerApi): MessagePort {
  const listeners = new Map<EventListenerOrEventListenerObject, EventListener>();
  return Object.assign(Object.create(port) as MessagePort, {
    postMessage: (message: unknown, transfer?: Transferable[]) => port.postMessage(message, transfer ?? []),
    start: () => port.start(),
    close: () => port.close(),
    addEventListener(type: string, listener: EventListenerOrEventListenerObject) {
      const guarded = (event: Event) => {
        const { data } = event as MessageEvent;
        if (isAllowedCall(data, api)) return typeof listener === 'function' ? listener(event) : listener.handleEvent(event);
        const refused = new TypeError(`Refused: not a call of the library's worker: ${quote(data)}`);
        port.postMessage(thrown((data as { id?: unknown } | null)?.id, refused));
      };
      listeners.set(listener, guarded);
      port.addEventListener(type, guarded);
    },
    removeEventListener(type: string, listener: EventListenerOrEventListenerObject) {
      const guarded = listeners.get(listener);
      if (guarded) port.removeEventListener(type, guarded);
    },
  });
}

/**
 * Refuses a call made through `port` with `error`: the call's first message gets it as its
 * answer, under its id, and the port closes.
 */
export function refuse(port: MessagePort, error: Error): void {
  port.onmessage = ({ data }: MessageEvent) => {
    port.postMessage(thrown((data as { id?: unknown } | null)?.id, error));
    port.close();
  };
}
