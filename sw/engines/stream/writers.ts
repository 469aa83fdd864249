/**
 * The writers pages gave this worker (`connectWriter`): dedicated workers that fetch a body and
 * write it through sync access handles, which a service worker has not (see `sw/writer`). A
 * writer counts once it has said hello, holding its Web Lock; the worker asks for that lock,
 * and is granted it when the writer's page goes (a `MessagePort` tells nothing when its other
 * end closes). Writers live as long as this worker: its next life starts without any, until a
 * page gives one again.
 */
import { isWriterReport, type WriteEnd, type WriteOrder, type WriterReport } from '../../../common/writerProtocol.js';

declare const self: ServiceWorkerGlobalScope;

/** A writer, as a transfer uses it. */
export interface PageWriter {
  /** Sends an order, or the end of one. */
  send(message: WriteOrder | WriteEnd): void;
  /** Calls `listener` with each report of write `id`, until the returned function is called. */
  listen(id: string, listener: (report: WriterReport) => void): () => void;
  /** Resolves once the writer is gone (its page closed). */
  readonly gone: Promise<void>;
}

/** How long `addWriter` waits for a writer's hello. */
const HELLO_MS = 1000;

/** The writers that said hello, most recent last, with the client (page) that gave each, by lock. */
const ready = new Map<string, { writer: PageWriter; clientId: string }>();

/**
 * Takes a writer's port from page `clientId`; resolves once the writer said hello (or did not
 * within `HELLO_MS`). A writer this worker has already is not taken twice.
 */
export function addWriter(port: MessagePort, clientId: string): Promise<void> {
  const listeners = new Map<string, (report: WriterReport) => void>();
  let ended!: () => void;
  let greeted!: () => void;
  const writer: PageWriter = {
    send: (message) => port.postMessage(message),
    listen(id, listener) {
      listeners.set(id, listener);
      return () => listeners.delete(id);
    },
    gone: new Promise<void>((resolve) => (ended = resolve)),
  };
  port.onmessage = ({ data }: MessageEvent) => {
    if (!isWriterReport(data)) return;
    if (data.type !== 'hello') return listeners.get(data.id)?.(data);
    greeted();
    if (!data.lock.startsWith('bgdl-writer:') || ready.has(data.lock)) return port.close();
    ready.set(data.lock, { writer, clientId });
    void navigator.locks.request(data.lock, async () => {
      ready.delete(data.lock);
      port.close();
      ended();
    });
  };
  return new Promise<void>((resolve) => {
    greeted = resolve;
    setTimeout(resolve, HELLO_MS);
  });
}

/**
 * A writer to carry a transfer: the most recent one whose page is still open and visible (a
 * hidden page may be frozen), else undefined.
 */
export async function pickWriter(): Promise<PageWriter | undefined> {
  for (const { writer, clientId } of [...ready.values()].reverse()) {
    const client = (await self.clients.get(clientId)) as WindowClient | undefined;
    if (client?.visibilityState === 'visible') return writer;
  }
  return undefined;
}
