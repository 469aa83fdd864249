import { URLError } from '../common/errors.js';
import { FILES_CACHE, temporaryKey, type TaskRecord } from '../common/schema.js';
import { completeTask } from './completion.js';
import type { Engine } from './engine.js';
import { notify } from './notify.js';
import { responseRecord } from './responseRecord.js';

/** How often, at most, a transfer reports its progress to the pages. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * The engine for browsers without Background Fetch: the worker fetches the body and streams
 * it into Cache Storage. It runs only while the worker lives; every call from a page keeps
 * the worker alive until the transfers under way end (`transfers`), and a task whose
 * transfer died with the worker is started again when a page re-creates its session.
 */
export class StreamEngine implements Engine {
  readonly name = 'stream';
  readonly #transfers = new Map<string, { done: Promise<void>; abort: AbortController }>();

  /** A promise that settles when no transfer is under way (for `waitUntil`). */
  async idle(): Promise<void> {
    while (this.#transfers.size > 0) await Promise.allSettled([...this.#transfers.values()].map((t) => t.done));
  }

  async start(task: TaskRecord): Promise<void> {
    const id = task.engineId!;
    const abort = new AbortController();
    const done = this.#run(task, abort.signal).finally(() => this.#transfers.delete(id));
    this.#transfers.set(id, { done, abort });
  }

  async isAlive(task: TaskRecord): Promise<boolean> {
    return this.#transfers.has(task.engineId!);
  }

  async cancel(task: TaskRecord): Promise<void> {
    const transfer = this.#transfers.get(task.engineId!);
    if (transfer) transfer.abort.abort();
    else await this.#fail(task, new URLError('cancelled', 'The download was cancelled'));
  }

  async #run(task: TaskRecord, signal: AbortSignal): Promise<void> {
    const { sessionId, taskIdentifier, originalRequest } = task;
    const { url, method, headers } = originalRequest;
    try {
      const response = await fetch(url, { method, headers, signal });
      if (!response.ok) {
        const message = `The server answered with an error status: HTTP ${response.status} for ${url}`;
        await this.#fail(task, new URLError('badServerResponse', message, response.status));
        return;
      }
      const expected = Number(response.headers.get('Content-Length') ?? -1);
      let received = 0;
      let reported = 0;
      const counter = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          received += chunk.byteLength;
          if (Date.now() - reported >= PROGRESS_INTERVAL_MS) {
            reported = Date.now();
            notify({ type: 'progress', sessionId, taskIdentifier, received, expected });
          }
          controller.enqueue(chunk);
        },
      });
      const meta = responseRecord(response, url);
      const cache = await caches.open(FILES_CACHE);
      const body = new Response(response.body!.pipeThrough(counter), { headers: response.headers });
      await cache.put(temporaryKey(sessionId, taskIdentifier), body);
      await completeTask(sessionId, taskIdentifier, task.engineId, { response: meta, size: received });
    } catch (error) {
      const cancelled = signal.aborted;
      const reason = error instanceof Error ? error.message : String(error);
      await this.#fail(
        task,
        cancelled
          ? new URLError('cancelled', 'The download was cancelled')
          : new URLError('networkConnectionLost', `The download of ${url} failed: ${reason}`),
      );
    }
  }

  #fail(task: TaskRecord, error: URLError): Promise<boolean> {
    return completeTask(task.sessionId, task.taskIdentifier, task.engineId, { error });
  }
}
