import { URLError } from '../common/errors.js';
import { PART_SIZE, SMALL_FILE_SIZE, type ConfigurationRecord, type TaskRecord } from '../common/schema.js';
import { completeTask } from './completion.js';
import { getDatabase } from './database.js';
import type { Engine } from './engine.js';
import { bodyPlacement, isRetryableStatus, retryDelay, validatorOf } from './http.js';
import { notify } from './notify.js';
import { deleteParts, putPart } from './parts.js';
import { IdleTimeout } from './IdleTimeout.js';
import { isQuotaError, storageFull } from './quota.js';
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
 * How many chunk buffers the engine keeps for reuse (16 MiB): enough for the parts in flight of
 * a few transfers. A buffer goes back to the pool once its part is committed to Cache Storage,
 * which has then read every byte of it. Fresh buffers for each chunk were garbage that V8
 * collected only after ~64 MiB of it (measured: +57-80 MiB for a 256 MiB download).
 */
const POOL_SIZE = 64;

/**
 * How many chunks a part's stream reads ahead of Cache Storage's writing (within the part, so a
 * stop still loses at most the parts in flight).
 */
const READ_AHEAD = 8;

/**
 * The largest part. Parts fill while the ones before commit (a part's `cache.put` settles
 * 20-30 ms after its last byte, measured in Chromium 156: waiting for it before reading on
 * stalled the network once per part), as long as the bytes not yet recorded stay within
 * `PART_SIZE`, what a stop (a killed worker, a restart) may lose.
 */
const MAX_PART_SIZE = PART_SIZE / 2;

/** The smallest part, and the first one's size, until the transfer's rate is known. */
const MIN_PART_SIZE = 256 * 1024;

/** A part holds about this long of the transfer, so that a slow link keeps small parts. */
const PART_DURATION_MS = 500;

/** How long a suspend waits for the parts in flight to be stored before it gives them up. */
const STOP_TIMEOUT_MS = 10_000;

/** Why a suspend aborts a transfer whose parts in flight took too long to store (not a cancel). */
const GIVEN_UP = 'bgdl: suspend gave up the parts in flight';

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
 * Fetch could not finish. The worker fetches the body in one request and stores it as it
 * arrives, in parts (each one Cache Storage entry) of about half a second of the transfer,
 * from 256 KiB up to `PART_SIZE / 2`, recording in the task the parts stored and their bytes.
 * One part fills while the one before commits, so a stop at any byte loses at most the two
 * parts in flight (`PART_SIZE`). It resumes with `Range` + `If-Range` from the bytes kept; a
 * `200` (range ignored) or a changed validator starts the file again from zero, so two
 * versions are never spliced. Network errors, 408, 429 and 5xx are retried.
 *
 * A suspend (`suspend`) ends the part filling at the bytes received and lets the parts in
 * flight commit, so that the resume starts where the transfer stopped.
 *
 * It runs only while the worker lives: every event that wakes the worker picks up the
 * transfers that died with the last one.
 *
 * (Measured in Chromium 156: a `Range` request per part, each response handed to `cache.put`
 * as is, would keep the browser's native path, but Cache Storage refuses a `206`, and a body
 * wrapped in `new Response(response.body)` is read through JavaScript like this one.)
 */
export class StreamEngine implements Engine {
  readonly name = 'stream';
  readonly #pool = new BufferPool();
  readonly #transfers = new Map<string, { done: Promise<void>; abort: AbortController; stop: AbortController }>();
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
    const id = task.transferId!;
    const abort = new AbortController();
    const stop = new AbortController();
    let turn = true;
    const release = () => turn && ((turn = false), this.#done());
    const done = this.#turn()
      .then(() => this.#run(task, configuration?.retryLimit ?? 5, (configuration?.timeoutIntervalForRequest ?? 60) * 1000, abort.signal, stop.signal, release))
      .finally(() => {
        this.#transfers.delete(id);
        release();
      });
    this.#transfers.set(id, { done, abort, stop });
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
    return this.#transfers.has(task.transferId!);
  }

  async cancel(task: TaskRecord): Promise<void> {
    const transfer = this.#transfers.get(task.transferId!);
    if (transfer) transfer.abort.abort();
    else await this.#end(task, { error: cancelled() });
  }

  /**
   * Stops the transfer keeping every byte it received: the part filling ends there, and the
   * parts in flight are stored and recorded (or given up after `STOP_TIMEOUT_MS`). The task is
   * left running for the caller to suspend; a transfer that ended meanwhile has ended it.
   */
  async suspend(task: TaskRecord): Promise<void> {
    const transfer = this.#transfers.get(task.transferId!);
    if (!transfer) return;
    transfer.stop.abort();
    const timer = setTimeout(() => transfer.abort.abort(GIVEN_UP), STOP_TIMEOUT_MS);
    await transfer.done;
    clearTimeout(timer);
  }

  /**
   * Runs a transfer to its end, with retries. `release` gives its turn to the next transfer
   * once the file is stored: its completion's write then overlaps the next transfers (measured
   * with 1,000 files of 16 KiB, the completions' writes were a third of each turn).
   */
  async #run(task: TaskRecord, retryLimit: number, timeoutMs: number, signal: AbortSignal, stop: AbortSignal, release: () => void): Promise<void> {
    for (let retry = 0; ; retry++) {
      try {
        const outcome = task.kind === 'upload' ? await this.#upload(task, signal) : await this.#transfer(task, signal, stop, retry > 0, timeoutMs);
        release();
        if (outcome) await this.#end(task, outcome);
        return;
      } catch (error) {
        // A cancel ends the task, even while a suspend waits for the parts in flight.
        if (signal.aborted && signal.reason !== GIVEN_UP) return void (await this.#end(task, { error: cancelled() }));
        if (stop.aborted) return; // suspended: what was kept is recorded, the rest is fetched on resume
        if (!(error instanceof Retryable) || retry >= retryLimit) {
          let cause = error instanceof Retryable ? error.cause : error;
          if (isQuotaError(cause)) cause = storageFull(task.originalRequest.url, cause);
          const ended = await this.#end(task, { error: cause });
          // A file that found no room gives back what it took, so that other files keep theirs.
          if (ended && cause instanceof URLError && cause.code === 'cannotWriteToFile') await deleteParts(task.sessionId, task.taskIdentifier);
          return;
        }
        const delay = retryDelay(retry + 1, error.retryAfter);
        if (!(await sleep(delay, signal, stop))) {
          if (signal.aborted && signal.reason !== GIVEN_UP) await this.#end(task, { error: cancelled() });
          return;
        }
      }
    }
  }

  /**
   * One attempt: fetch from the bytes kept on, store the rest. Returns the whole file, or
   * nothing when suspended (`stop`) before its end. No byte for `timeoutMs` ends the attempt.
   */
  async #transfer(task: TaskRecord, signal: AbortSignal, stop: AbortSignal, again: boolean, timeoutMs: number) {
    const idle = new IdleTimeout(timeoutMs);
    try {
      return await this.#attempt(task, signal, stop, again, idle);
    } catch (error) {
      if (!idle.signal.aborted || signal.aborted) throw error;
      const { url } = task.originalRequest;
      throw new Retryable(new URLError('timedOut', `The download of ${url} timed out: no data for ${timeoutMs / 1000} s (timeoutIntervalForRequest)`));
    } finally {
      idle.clear();
    }
  }

  async #attempt(task: TaskRecord, signal: AbortSignal, stop: AbortSignal, again: boolean, idle: IdleTimeout) {
    const { sessionId, taskIdentifier } = task;
    // A first attempt has the task as `startMany` stored it: this transfer alone writes it since.
    const saved = again ? await this.#saved(task) : task;
    if (saved.transferId !== task.transferId) throw new Error('superseded');
    if (stop.aborted) return;
    const { url, method, headers: requestHeaders } = task.originalRequest;
    const headers = new Headers(requestHeaders);
    const offset = saved.validator && saved.parts > 0 ? saved.countOfBytesReceived : 0;
    if (offset > 0 && offset === saved.countOfBytesExpectedToReceive) {
      return { response: saved.response!, size: offset, parts: saved.parts };
    }
    if (offset > 0) {
      headers.set('Range', `bytes=${offset}-`);
      headers.set('If-Range', saved.validator!);
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, signal: AbortSignal.any([signal, idle.signal]), cache: 'no-store' });
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
    let parts = placement.start === 0 ? 0 : saved.parts;
    let fileResponse = saved.response;
    // What the response tells, recorded with the first part when the file fits in it (nothing
    // kept to drop, and a stop loses no more than that part); else before any part.
    let first: Partial<TaskRecord> | undefined;
    if (placement.start === 0) {
      fileResponse = { ...responseRecord(response, url), status: 200 };
      first = { validator: validatorOf(response.headers), response: fileResponse, countOfBytesExpectedToReceive: placement.size };
      if (saved.parts > 0 || placement.size < 0 || placement.size > MIN_PART_SIZE) {
        // The whole file, perhaps a new version of it: drop what was kept of any other.
        if (saved.parts > 0) await deleteParts(sessionId, taskIdentifier);
        await this.#save(task, { ...first, parts: 0, countOfBytesReceived: 0 });
        first = undefined;
      }
    }
    const size = saved.countOfBytesExpectedToReceive >= 0 && placement.start > 0 ? saved.countOfBytesExpectedToReceive : placement.size;
    const limit = task.countOfBytesClientExpectsToReceive > 0 ? task.countOfBytesClientExpectsToReceive : Infinity;
    const tooLarge = () =>
      new URLError('dataLengthExceedsMaximum', `The response of ${url} is larger than countOfBytesClientExpectsToReceive (${limit} bytes)`);
    if (size > limit) throw tooLarge();
    let exceeded: URLError | undefined;
    const failure = (error: unknown): unknown => {
      if (exceeded) return exceeded;
      if (signal.aborted) return error;
      if (isQuotaError(error)) return storageFull(url, error);
      return new Retryable(new URLError('networkConnectionLost', `The download of ${url} was cut off: ${String(error)}`));
    };
    // A small file (a 200 of known size, nothing kept before) is read whole and written with
    // its completion, in the database: Cache Storage costs the browser far more per file.
    if (first && response.status === 200 && size <= SMALL_FILE_SIZE) {
      let body: ArrayBuffer;
      try {
        body = await response.arrayBuffer();
      } catch (error) {
        throw failure(error);
      }
      if (body.byteLength > limit) throw tooLarge();
      return { response: fileResponse!, size: body.byteLength, parts: 0, body };
    }
    // A file whole in its first part (a 200 of known size, nothing kept before) is stored as the
    // response itself, natively: no body through JavaScript, recorded by its completion alone.
    // Only a same-origin one: CORS may hide another origin's Content-Encoding, and its size is
    // then known only once the body is read.
    if (first && response.status === 200 && response.type === 'basic' && !/(^|,)\s*\*\s*(,|$)/.test(response.headers.get('Vary') ?? '')) {
      try {
        await putPart(sessionId, taskIdentifier, 0, response);
      } catch (error) {
        throw failure(error);
      }
      return { response: fileResponse!, size, parts: 1 };
    }
    const body = new PartReader(response.body!, this.#pool);
    const stopped = new Promise<undefined>((resolve) => {
      if (stop.aborted) resolve(undefined);
      else stop.addEventListener('abort', () => resolve(undefined), { once: true });
    });
    let filled = placement.start; // bytes handed to parts
    let kept = placement.start; // bytes in parts stored and recorded
    let reported = 0;
    let partSize = MIN_PART_SIZE;
    // Each part's commit, then its record, in order: `stored` is the last part's; `recording`
    // holds those not yet awaited, oldest first.
    let stored: Promise<void> = Promise.resolve();
    const recording: Promise<void>[] = [];
    try {
      for (;;) {
        // The bytes not yet recorded stay within PART_SIZE: the oldest parts are stored first.
        while (filled - kept + partSize > PART_SIZE && recording.length > 0) await recording.shift();
        if (stop.aborted) break;
        // Past the length announced, a part begins only if the body goes on: a body whose
        // encoding a cross-origin response hides (Content-Encoding is not exposed by CORS)
        // has another length than its Content-Length.
        const past = size >= 0 && filled >= size;
        let head = past ? await body.read(partSize) : undefined;
        if (past && !head) break;
        const max = partSize;
        const began = performance.now();
        const index = parts;
        let partBytes = 0;
        const buffers: ArrayBuffer[] = [];
        let settle!: { resolve: (bytes: number) => void; reject: (error: unknown) => void };
        const part = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
        const stream = new ReadableStream<Uint8Array>({
          pull: async (controller) => {
            try {
              // A suspend ends the part at the bytes received (a read in flight is dropped).
              const reading = head ? Promise.resolve(head) : body.read(max - partBytes);
              head = undefined;
              reading.catch(() => undefined);
              const chunk = await Promise.race([reading, stopped]);
              if (!chunk) {
                controller.close();
                return settle.resolve(partBytes);
              }
              idle.touch();
              partBytes += chunk.byteLength;
              buffers.push(chunk.buffer as ArrayBuffer);
              if (filled + partBytes > limit) throw (exceeded = tooLarge());
              controller.enqueue(chunk);
              if (Date.now() - reported >= PROGRESS_INTERVAL_MS) {
                reported = Date.now();
                notify({ type: 'progress', sessionId, taskIdentifier, received: filled + partBytes, expected: size });
              }
              if (partBytes === max) {
                controller.close();
                settle.resolve(partBytes);
              }
            } catch (error) {
              controller.error(error);
              settle.reject(error);
            }
          },
          cancel: (reason) => settle.reject(reason),
        }, new CountQueuingStrategy({ highWaterMark: READ_AHEAD }));
        const put = putPart(sessionId, taskIdentifier, index, stream);
        put.catch((error) => settle.reject(error)); // a write that fails before the part is filled
        // Out of room, Firefox's Cache Storage cancels the part's body (an AbortError, or the
        // pull's next enqueue fails) before its put rejects with the cause: the put says why.
        const bytes = await part.catch(async (error: unknown) => {
          throw await put.then(() => error, (cause: unknown) => (isQuotaError(cause) ? cause : error));
        });
        // An empty part is not kept (but a first one: the file may be empty).
        if (bytes > 0 || index === 0) {
          parts = index + 1;
          const end = (filled += bytes);
          stored = Promise.all([stored, put]).then(async () => {
            // Cache Storage has read every byte of the part: its buffers can take new ones.
            this.#pool.give(buffers);
            // A file whole in its first part is recorded by its completion, in one write.
            if (!first || end !== size) await this.#save(task, { ...first, parts: index + 1, countOfBytesReceived: end });
            first = undefined;
            kept = end;
            idle.touch(); // a wait on storage is not one on the network
          });
          stored.catch(() => undefined); // seen by the next wait, or at the end
          recording.push(stored);
        }
        if (bytes < max || body.done) break;
        const ms = performance.now() - began;
        const fit = ms > 0 ? (bytes * PART_DURATION_MS) / ms : MAX_PART_SIZE;
        partSize = Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, Math.round(fit / CHUNK_SIZE) * CHUNK_SIZE));
      }
      await stored;
    } catch (error) {
      await stored.catch(() => undefined); // the parts that came whole stay recorded
      throw failure(error);
    } finally {
      body.cancel();
    }
    if (stop.aborted && kept !== size) return;
    // A body that ended (the browser fails one cut short of its Content-Length) is whole, even
    // of another length than announced: it was encoded.
    if (size >= 0 && kept !== size && !body.done) {
      throw new Retryable(new URLError('networkConnectionLost', `The download of ${url} ended at ${kept} of ${size} bytes`));
    }
    return { response: fileResponse!, size: kept, parts };
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
    return completeTask(task.sessionId, task.taskIdentifier, task.transferId, outcome);
  }
}

/**
 * Chunk buffers of `CHUNK_SIZE` for reuse. A buffer is given back only when nothing will read
 * it again (its part is committed), and at most `POOL_SIZE` are kept.
 */
class BufferPool {
  readonly #free: ArrayBuffer[] = [];

  /** A buffer of `CHUNK_SIZE` bytes, reused if one is free. */
  take(): ArrayBuffer {
    return this.#free.pop() ?? new ArrayBuffer(CHUNK_SIZE);
  }

  /** Buffers no one reads any more (detached ones, or of another size, are dropped). */
  give(buffers: ArrayBuffer[]): void {
    for (const buffer of buffers) {
      if (this.#free.length >= POOL_SIZE) return;
      if (buffer.byteLength === CHUNK_SIZE) this.#free.push(buffer);
    }
  }
}

/**
 * Reads a body in pieces of at most a given size, so that parts end exactly at their size.
 * Where the body is a byte stream, a BYOB reader fills fresh buffers of `CHUNK_SIZE`.
 */
class PartReader {
  readonly #byob: ReadableStreamBYOBReader | undefined;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #pending: Uint8Array | undefined;
  done = false;

  constructor(
    body: ReadableStream<Uint8Array>,
    readonly pool: BufferPool,
  ) {
    try {
      this.#byob = body.getReader({ mode: 'byob' });
    } catch {
      this.#reader = body.getReader(); // not a byte stream
    }
  }

  /** Stops reading: the rest of the body is not fetched. */
  cancel(): void {
    (this.#byob ?? this.#reader)!.cancel().catch(() => undefined);
  }

  /** At most `max` bytes, or undefined at the end of the body. */
  async read(max: number): Promise<Uint8Array | undefined> {
    if (max <= 0) return undefined;
    return this.#byob ? this.#readInto(this.#byob, max) : this.#readChunk(this.#reader!, max);
  }

  async #readInto(reader: ReadableStreamBYOBReader, max: number): Promise<Uint8Array | undefined> {
    if (this.done) return undefined;
    let buffer = this.pool.take();
    const size = Math.min(CHUNK_SIZE, max);
    let filled = 0;
    while (filled < size) {
      // Each read transfers the buffer: the bytes so far live on in the view it gives back.
      const { value, done } = await reader.read(new Uint8Array(buffer, filled, size - filled));
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

/** Waits, unless a signal aborts first; resolves to whether the time passed. */
function sleep(ms: number, ...signals: AbortSignal[]): Promise<boolean> {
  return new Promise((resolve) => {
    if (signals.some((signal) => signal.aborted)) return resolve(false);
    const timer = setTimeout(() => resolve(true), ms);
    for (const signal of signals) signal.addEventListener('abort', () => (clearTimeout(timer), resolve(false)), { once: true });
  });
}
