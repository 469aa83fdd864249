import { URLError } from '../common/errors.js';
import { PART_SIZE, type ConfigurationRecord, type TaskRecord } from '../common/schema.js';
import { completeTask } from './completion.js';
import { getDatabase } from './database.js';
import type { Engine } from './engine.js';
import { bodyPlacement, isRetryableStatus, retryDelay, validatorOf } from './http.js';
import { notify } from './notify.js';
import { deleteParts, putPart } from './parts.js';
import { responseRecord } from './responseRecord.js';
import { saveTransfer } from './progress.js';

/** How often, at most, a transfer reports its progress to the pages. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Where the body is a byte stream, it is read with a BYOB reader into fresh buffers of this
 * size rather than taken in the network's chunks: measured in Chromium 156, the browser's
 * memory grew by a third to a half as much, at the same speed.
 */
const CHUNK_SIZE = 256 * 1024;

/**
 * How many chunks a part's stream reads ahead of Cache Storage's writing (within the part, so a
 * stop still loses at most the part in flight).
 */
const READ_AHEAD = 8;

/**
 * How many transfers run at a time: tasks resumed together take turns rather than all opening
 * connections at once; the others wait, queued, in order. More than HTTP/1.1's per-host limit
 * (6, which the browser keeps anyway): a transfer spends much of its time storing (its part,
 * its records) after its response ended, and meanwhile another uses the connection. Measured
 * with 1,000 files of 16 KiB (bench/README.md): 6 at a time took ~4x as long as plain fetches.
 */
const TRANSFERS_AT_ONCE = 24;

/** A failure worth another try, after `retryAfter` if the server said so. */
class Retryable extends Error {
  constructor(
    override readonly cause: URLError,
    readonly retryAfter: string | null = null,
  ) {
    super(cause.message);
  }
}

/**
 * The library's own engine, for browsers without Background Fetch and for what Background
 * Fetch could not finish. The worker fetches the body and stores it as it arrives, in parts of
 * `PART_SIZE` (each one Cache Storage entry), recording each stored part in the task: a stop at
 * any byte loses at most the part in flight. It resumes with `Range` + `If-Range` from the
 * last stored part; a `200` (range ignored) or a changed validator starts the file again from
 * zero, so two versions are never spliced. Network errors, 408, 429 and 5xx are retried.
 *
 * It runs only while the worker lives: every event that wakes the worker picks up the
 * transfers that died with the last one.
 */
export class StreamEngine implements Engine {
  readonly name = 'stream';
  readonly #transfers = new Map<string, { done: Promise<void>; abort: AbortController }>();
  /** Transfers running now, and those waiting for a turn. */
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  /** Whether transfers are under way. */
  get busy(): boolean {
    return this.#transfers.size > 0;
  }

  /** A promise that settles when no transfer is under way (for `waitUntil`). */
  async idle(): Promise<void> {
    while (this.#transfers.size > 0) await Promise.allSettled([...this.#transfers.values()].map((t) => t.done));
  }

  async start(task: TaskRecord, configuration: ConfigurationRecord | undefined): Promise<void> {
    const id = task.engineId!;
    const abort = new AbortController();
    const done = this.#turn()
      .then(() => this.#run(task, configuration?.retryLimit ?? 5, abort.signal))
      .finally(() => {
        this.#transfers.delete(id);
        this.#done();
      });
    this.#transfers.set(id, { done, abort });
  }

  /** Waits until fewer than `TRANSFERS_AT_ONCE` transfers run, and counts this one in. */
  async #turn(): Promise<void> {
    if (this.#running < TRANSFERS_AT_ONCE) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /** A transfer has ended: the next one waiting takes its turn. */
  #done(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }

  async isAlive(task: TaskRecord): Promise<boolean> {
    return this.#transfers.has(task.engineId!);
  }

  async cancel(task: TaskRecord): Promise<void> {
    const transfer = this.#transfers.get(task.engineId!);
    if (transfer) transfer.abort.abort();
    else await this.#end(task, { error: cancelled() });
  }

  async #run(task: TaskRecord, retryLimit: number, signal: AbortSignal): Promise<void> {
    for (let retry = 0; ; retry++) {
      try {
        const outcome = task.kind === 'upload' ? await this.#upload(task, signal) : await this.#transfer(task, signal);
        await this.#end(task, outcome);
        return;
      } catch (error) {
        if (signal.aborted) return void (await this.#end(task, { error: cancelled() }));
        if (!(error instanceof Retryable) || retry >= retryLimit) {
          let cause = error instanceof Retryable ? error.cause : error;
          if ((cause as { name?: unknown }).name === 'QuotaExceededError') {
            cause = new URLError('cannotWriteToFile', `No storage left for the download of ${task.originalRequest.url}: ${(cause as Error).message}`);
          }
          const ended = await this.#end(task, { error: cause });
          // A file that found no room gives back what it took, so that other files keep theirs.
          if (ended && cause instanceof URLError && cause.code === 'cannotWriteToFile') await deleteParts(task.sessionId, task.taskIdentifier);
          return;
        }
        const delay = retryDelay(retry + 1, error.retryAfter);
        if (!(await sleep(delay, signal))) return void (await this.#end(task, { error: cancelled() }));
      }
    }
  }

  /** One attempt: fetch from the last stored part on, store the rest; returns the whole file. */
  async #transfer(task: TaskRecord, signal: AbortSignal) {
    const { sessionId, taskIdentifier } = task;
    const saved = (await (await getDatabase()).get('tasks', [sessionId, taskIdentifier])) ?? task;
    if (saved.engineId !== task.engineId) throw new Error('superseded');
    const { url, method, headers: requestHeaders } = task.originalRequest;
    const headers = new Headers(requestHeaders);
    const offset = saved.validator ? saved.parts * PART_SIZE : 0;
    if (offset > 0 && offset === saved.countOfBytesExpectedToReceive) {
      return { response: saved.response!, size: offset, parts: saved.parts };
    }
    if (offset > 0) {
      headers.set('Range', `bytes=${offset}-`);
      headers.set('If-Range', saved.validator!);
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, signal, cache: 'no-store' });
    } catch (error) {
      throw new Retryable(new URLError('networkConnectionLost', `The download of ${url} failed: ${String(error)}`));
    }
    if (response.status === 416 && offset > 0) {
      // The file shrank or changed: start it again from zero.
      await this.#save(task, { parts: 0, validator: null, countOfBytesReceived: 0 });
      throw new Retryable(new URLError('badServerResponse', `HTTP 416 for ${url}`, 416), '0');
    }
    if (!response.ok) {
      const error = new URLError('badServerResponse', `The server answered with an error status: HTTP ${response.status} for ${url}`, response.status);
      if (isRetryableStatus(response.status)) throw new Retryable(error, response.headers.get('Retry-After'));
      throw error;
    }
    const placement = bodyPlacement(response, offset);
    if (!placement) throw new URLError('badServerResponse', `The server answered a range that was not asked for (${url})`);
    let parts = placement.start / PART_SIZE;
    if (placement.start === 0) {
      // The whole file, perhaps a new version of it: drop what was kept of any other.
      if (saved.parts > 0) await deleteParts(sessionId, taskIdentifier);
      const meta = responseRecord(response, url);
      await this.#save(task, {
        parts: 0,
        validator: validatorOf(response.headers),
        response: { ...meta, status: 200 },
        countOfBytesReceived: 0,
        countOfBytesExpectedToReceive: placement.size,
      });
    }
    const size = saved.countOfBytesExpectedToReceive >= 0 && placement.start > 0 ? saved.countOfBytesExpectedToReceive : placement.size;
    const limit = task.countOfBytesClientExpectsToReceive > 0 ? task.countOfBytesClientExpectsToReceive : Infinity;
    const tooLarge = () =>
      new URLError('dataLengthExceedsMaximum', `The response of ${url} is larger than countOfBytesClientExpectsToReceive (${limit} bytes)`);
    if (size > limit) throw tooLarge();
    let exceeded: URLError | undefined;
    let received = placement.start;
    const body = new PartReader(response.body!);
    let reported = 0;
    for (;;) {
      let partBytes = 0;
      const part = new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          const chunk = await body.read(PART_SIZE - partBytes);
          if (!chunk) return controller.close();
          partBytes += chunk.byteLength;
          if (received + partBytes > limit) return controller.error((exceeded = tooLarge()));
          controller.enqueue(chunk);
          if (Date.now() - reported >= PROGRESS_INTERVAL_MS) {
            reported = Date.now();
            notify({ type: 'progress', sessionId, taskIdentifier, received: received + partBytes, expected: size });
          }
          if (partBytes === PART_SIZE) controller.close();
        },
      }, new CountQueuingStrategy({ highWaterMark: READ_AHEAD }));
      try {
        await putPart(sessionId, taskIdentifier, parts, part);
      } catch (error) {
        if (exceeded) throw exceeded;
        if (signal.aborted) throw error;
        if (error instanceof DOMException && error.name === 'QuotaExceededError') {
          throw new URLError('cannotWriteToFile', `No storage left for the download of ${url}: ${error.message}`);
        }
        throw new Retryable(new URLError('networkConnectionLost', `The download of ${url} was cut off: ${String(error)}`));
      }
      if (partBytes === 0 && parts > placement.start / PART_SIZE) break; // an empty last part
      received += partBytes;
      parts++;
      await this.#save(task, { parts, countOfBytesReceived: received });
      if (partBytes < PART_SIZE || body.done) break;
    }
    if (size >= 0 && received !== size) {
      throw new Retryable(new URLError('networkConnectionLost', `The download of ${url} ended at ${received} of ${size} bytes`));
    }
    return { response: (await this.#saved(task)).response!, size: received, parts };
  }

  /** One attempt at an upload: the body is sent whole (fetch tells no upload progress). */
  async #upload(task: TaskRecord, signal: AbortSignal) {
    const { url, method, headers } = task.originalRequest;
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: task.body, signal, cache: 'no-store' });
      await response.arrayBuffer();
    } catch (error) {
      throw new Retryable(new URLError('networkConnectionLost', `The upload to ${url} failed: ${String(error)}`));
    }
    if (!response.ok) {
      const error = new URLError('badServerResponse', `The server answered with an error status: HTTP ${response.status} for ${url}`, response.status);
      if (isRetryableStatus(response.status)) throw new Retryable(error, response.headers.get('Retry-After'));
      throw error;
    }
    const sent = task.body?.size ?? 0;
    notify({ type: 'sent', sessionId: task.sessionId, taskIdentifier: task.taskIdentifier, sent, expected: sent });
    return { response: responseRecord(response, url), size: 0, parts: 0 };
  }

  async #saved(task: TaskRecord): Promise<TaskRecord> {
    return (await (await getDatabase()).get('tasks', [task.sessionId, task.taskIdentifier])) ?? task;
  }

  /** Records the transfer's progress in the task, if the task is still this transfer's. */
  async #save(task: TaskRecord, changes: Partial<TaskRecord>): Promise<void> {
    await saveTransfer(task, changes);
  }

  #end(task: TaskRecord, outcome: Parameters<typeof completeTask>[3]): Promise<boolean> {
    return completeTask(task.sessionId, task.taskIdentifier, task.engineId, outcome);
  }
}

/**
 * Reads a body in pieces of at most a given size, so that parts end exactly at `PART_SIZE`.
 * Where the body is a byte stream, a BYOB reader fills fresh buffers of `CHUNK_SIZE`.
 */
class PartReader {
  readonly #byob: ReadableStreamBYOBReader | undefined;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #pending: Uint8Array | undefined;
  done = false;

  constructor(body: ReadableStream<Uint8Array>) {
    try {
      this.#byob = body.getReader({ mode: 'byob' });
    } catch {
      this.#reader = body.getReader(); // not a byte stream
    }
  }

  /** At most `max` bytes, or undefined at the end of the body. */
  async read(max: number): Promise<Uint8Array | undefined> {
    if (max <= 0) return undefined;
    return this.#byob ? this.#readInto(this.#byob, max) : this.#readChunk(this.#reader!, max);
  }

  async #readInto(reader: ReadableStreamBYOBReader, max: number): Promise<Uint8Array | undefined> {
    if (this.done) return undefined;
    let buffer = new ArrayBuffer(Math.min(CHUNK_SIZE, max));
    let filled = 0;
    while (filled < buffer.byteLength) {
      // Each read transfers the buffer: the bytes so far live on in the view it gives back.
      const { value, done } = await reader.read(new Uint8Array(buffer, filled, buffer.byteLength - filled));
      if (value) buffer = value.buffer as ArrayBuffer;
      if (done) {
        this.done = true;
        break;
      }
      filled += value!.byteLength;
    }
    return filled === 0 ? undefined : new Uint8Array(buffer, 0, filled);
  }

  async #readChunk(reader: ReadableStreamDefaultReader<Uint8Array>, max: number): Promise<Uint8Array | undefined> {
    let chunk = this.#pending;
    this.#pending = undefined;
    while (!chunk || chunk.byteLength === 0) {
      const { value, done } = await reader.read();
      if (done) {
        this.done = true;
        return undefined;
      }
      chunk = value;
    }
    if (chunk.byteLength > max) {
      this.#pending = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    return chunk;
  }
}

function cancelled(): URLError {
  return new URLError('cancelled', 'The download was cancelled');
}

/** Waits, unless aborted first; resolves to whether the time passed. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(true), ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve(false)), { once: true });
  });
}
