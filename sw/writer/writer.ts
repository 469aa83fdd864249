/**
 * A page's writer: a dedicated worker the page makes (`src/pageWriter.ts`) that fetches the
 * bodies the service worker gives it (`WriteOrder`) and writes them, part by part, into files of
 * the origin private file system through `FileSystemSyncAccessHandle`s. A service worker has no
 * such handle; writing through one costs the browser about what storing a body natively does,
 * where the service worker's own parts cost twice (bench/README.md, "A faster way"). The
 * service worker keeps the task: it records each part the writer reports, and fetches the rest
 * itself if the writer goes with its page.
 */
import { PARTS_DIRECTORY, partFileName, temporaryKey } from '../../common/cacheKeys.js';
import { type WriteEnd, type WriteOrder, type WriterReport } from '../../common/writerProtocol.js';
import { BufferPool, PartReader } from '../engines/stream/PartReader.js';
import { bodyPlacement, validatorOf } from '../http.js';

declare const self: DedicatedWorkerGlobalScope;

/** Each read fills at most this much (measured: 1 MiB reads beat the network's chunks by far). */
const READ_SIZE = 1024 * 1024;

/** How often, at most, a write reports its progress. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * How long a stopped write waits for the read under way to bring what it has (up to a buffer
 * the network had delivered): a server that sends nothing more ends it then.
 */
const STOP_GRACE_MS = 250;

/** A write under way: `stop` ends it at the bytes received, `abort` at once. */
interface Write {
  stop: AbortController;
  abort: AbortController;
}

const writes = new Map<string, Write>();

const lock = `bgdl-writer:${crypto.randomUUID()}`;
/** Resolves once the writer holds its lock, for its life: the service worker is granted it once the writer is gone. */
const holding = new Promise<void>((resolve, reject) => void navigator.locks.request(lock, () => (resolve(), new Promise(() => {}))).catch(reject));
const canWrite = typeof FileSystemFileHandle === 'function' && 'createSyncAccessHandle' in FileSystemFileHandle.prototype;
// The page waits for this: a writer that cannot write (or never runs) is not given to the worker.
void holding.then(
  () => self.postMessage(canWrite ? 'bgdl:writer-ready' : 'bgdl:writer-unable'),
  () => self.postMessage('bgdl:writer-unable'),
);

// Each port is a service worker's (a worker that stops and starts again gets a new one).
self.onmessage = ({ data, ports }: MessageEvent) => {
  const port = ports[0];
  if (data !== 'bgdl:writer' || !port || !canWrite) return;
  void holding.then(() => port.postMessage({ type: 'hello', lock }));
  port.onmessage = ({ data }: MessageEvent<WriteOrder | WriteEnd>) => {
    if (data?.type === 'write' && !writes.has(data.id)) void write(port, data);
    else if (data?.type === 'stop') writes.get(data.id)?.stop.abort();
    else if (data?.type === 'abort') writes.get(data.id)?.abort.abort();
  };
};

/** Carries out one order, reporting to `port` until it is done or failed. */
async function write(port: MessagePort, order: WriteOrder): Promise<void> {
  const state: Write = { stop: new AbortController(), abort: new AbortController() };
  writes.set(order.id, state);
  const report = (message: WriterReport) => port.postMessage(message);
  try {
    const response = await fetch(order.url, { headers: order.headers, signal: state.abort.signal, cache: 'no-store' });
    const failure = unexpected(response, order);
    if (failure) {
      await response.body?.cancel().catch(() => undefined);
      return report({ type: 'failed', id: order.id, name: 'UnexpectedResponse', message: failure, status: response.status });
    }
    report({ type: 'responded', id: order.id, status: response.status, redirected: response.redirected });
    const { end, complete } = await writeParts(response.body!, order, state, report);
    report({ type: 'done', id: order.id, end, complete });
  } catch (error) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    report({ type: 'failed', id: order.id, name: String(name ?? 'Error'), message: String(message ?? error) });
  } finally {
    writes.delete(order.id);
  }
}

/** Why a response does not continue the file the service worker saw, or undefined if it does. */
function unexpected(response: Response, order: WriteOrder): string | undefined {
  if (!response.ok) return `HTTP ${response.status}`;
  const kept = order.start > 0 && order.validator !== null ? { validator: order.validator, size: order.size } : undefined;
  const placement = bodyPlacement(response, order.start, kept);
  if (!placement || placement.start !== order.start) return 'a range not asked for';
  if (order.start === 0 && (placement.size !== order.size || validatorOf(response.headers) !== order.validator)) return 'another version of the file';
  return undefined;
}

/** Writes a body in parts; returns the byte of the file written up to, and whether the body ended there. */
async function writeParts(
  body: ReadableStream<Uint8Array>,
  order: WriteOrder,
  state: Write,
  report: (message: WriterReport) => void,
): Promise<{ end: number; complete: boolean }> {
  const directory = await (await navigator.storage.getDirectory()).getDirectoryHandle(PARTS_DIRECTORY, { create: true });
  const pool = new BufferPool(READ_SIZE);
  const reader = new PartReader(body, pool);
  const stopped = new Promise<undefined>((resolve) =>
    state.stop.signal.addEventListener('abort', () => setTimeout(resolve, STOP_GRACE_MS, undefined), { once: true }),
  );
  let at = order.start;
  let reported = 0;
  try {
    for (let index = order.firstPart; !reader.done && !state.stop.signal.aborted; index++) {
      const name = partFileName(temporaryKey(order.sessionId, order.taskIdentifier, index, order.by));
      const file = await directory.getFileHandle(name, { create: true });
      const handle = await file.createSyncAccessHandle();
      let written = 0;
      const room = partRoom(order, at);
      try {
        // The part's room asked for at once: a file grown write by write asks the browser for
        // room at 1, 2, 4 and 8 MiB, a round trip each (bench/README.md, "Room for a part").
        handle.truncate(room);
        while (written < order.partSize) {
          const chunk = await Promise.race([reader.read(order.partSize - written, state.stop.signal), stopped]);
          if (!chunk) break;
          written += handle.write(chunk, { at: written });
          pool.give([chunk.buffer as ArrayBuffer]); // written: the next read fills it again
          if (Date.now() - reported >= PROGRESS_INTERVAL_MS) {
            reported = Date.now();
            report({ type: 'progress', id: order.id, received: at + written });
          }
        }
        if (written !== room) handle.truncate(written);
      } finally {
        // Not flushed (fsync): what the bytes written survive (the page, the browser, not the
        // machine's crash) is what the Cache Storage parts and IndexedDB records beside them
        // survive; a flush per part made the writer wait on the disk's other writes (bench/README.md).
        handle.close();
      }
      // An empty part is not kept (but a first one: the file may be empty).
      if (written === 0 && index > 0) {
        await directory.removeEntry(name).catch(() => undefined);
        break;
      }
      at += written;
      report({ type: 'part', id: order.id, index, end: at });
    }
  } finally {
    reader.cancel();
  }
  return { end: at, complete: reader.done };
}

/** The bytes a part starting at byte `at` will hold if the body is as the worker saw it. */
function partRoom(order: WriteOrder, at: number): number {
  return order.size > at ? Math.min(order.partSize, order.size - at) : order.partSize;
}
