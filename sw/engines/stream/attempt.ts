/**
 * One attempt of the streaming engine at a download: fetch from the bytes kept on, store the
 * rest in parts (see `storeParts`), and say how it ended. A failure worth another try is a
 * `Retryable`; `StreamEngine` decides nothing about retries itself, it asks the sink.
 */
import { requestOf } from '../../currentRequest.js';
import { URLError } from '../../../common/errors.js';
import { owns } from '../../../common/lifecycle.js';
import { SMALL_FILE_SIZE, type ConfigurationRecord, type ResponseRecord, type TaskRecord, type TransactionRecord } from '../../../common/schema.js';
import { partOwners } from '../../../common/cacheKeys.js';
import { failedBeforeResponse, isCrossOrigin } from '../../cors.js';
import { refusal } from '../../admission.js';
import { bodyPlacement, isRetryableStatus, validatorOf } from '../../http.js';
import { hashParts } from '../../integrity.js';
import { responded, startTransaction } from '../../metrics.js';
import { isQuotaError, storageFull } from '../../quota.js';
import { responseRecord } from '../../responseRecord.js';
import { deleteParts, putPart } from '../../store/parts.js';
import type { TransferSink } from '../Engine.js';
import type { IdleTimeout } from './IdleTimeout.js';
import type { BufferPool } from './PartReader.js';
import { MIN_PART_SIZE, storeParts } from './storeParts.js';
import { writerFor, writeParts } from './writeParts.js';
import type { PageWriter } from './writers.js';

/**
 * A failure worth another try, after `retryAfter` if the server said so. `beforeResponse`: the
 * browser failed the request before any response with the network up, as it fails one refused
 * by CORS (`failedBeforeResponse`).
 */
export class Retryable extends Error {
  constructor(
    override readonly cause: URLError,
    readonly retryAfter: string | null = null,
    readonly beforeResponse = false,
  ) {
    super(cause.message);
  }
}

/** A file as an attempt ends it: in `parts`, or a small file's `body`. */
export interface Finished {
  response: ResponseRecord;
  size: number;
  parts: number;
  partsBy?: string[];
  body?: ArrayBuffer;
}

/** What an attempt works with. */
export interface AttemptContext {
  task: TaskRecord;
  sink: TransferSink;
  pool: BufferPool;
  /** Aborted by a cancel (or a suspend that gave up waiting). */
  signal: AbortSignal;
  /** Aborted by a suspend: the attempt ends at the bytes received. */
  stop: AbortSignal;
  idle: IdleTimeout;
  /** The session's configuration, as the transfer started. */
  configuration?: ConfigurationRecord | undefined;
  /** The transfer's requests so far, for the task's metrics: each request adds one. */
  transactions: TransactionRecord[];
}

/**
 * Rejects, with the reason, once the attempt is given up: cancelled, or no data for
 * `timeoutIntervalForRequest`. Raced with each read of the body, because WebKit leaves a read
 * of an aborted fetch's body waiting for ever.
 */
export function givenUp({ signal, idle }: AttemptContext): Promise<never> {
  const any = AbortSignal.any([signal, idle.signal]);
  const given = new Promise<never>((_, reject) => {
    if (any.aborted) reject(any.reason);
    else any.addEventListener('abort', () => reject(any.reason), { once: true });
  });
  given.catch(() => undefined); // an attempt that ends otherwise never looks
  return given;
}

/** An error status as a URLError, retryable where the server may do better later. */
export function statusError(response: Response, url: string): Error {
  const error = new URLError('badServerResponse', `The server answered with an error status: HTTP ${response.status} for ${url}`, response.status);
  return isRetryableStatus(response.status) ? new Retryable(error, response.headers.get('Retry-After')) : error;
}

/**
 * One attempt at a download. Returns the whole file, or nothing when suspended (`stop`) before
 * its end. `again`: a retry, which reads the task as its earlier attempts left it.
 */
export async function downloadAttempt(ctx: AttemptContext, again: boolean): Promise<Finished | undefined> {
  const { task, sink, stop } = ctx;
  // A first attempt has the task as the scheduler stored it: this transfer alone writes it since.
  const saved = again ? ((await sink.read(task)) ?? task) : task;
  if (!owns(saved, task.transferId)) throw new Error('superseded');
  if (stop.aborted) return;
  const offset = saved.validator && saved.parts > 0 ? saved.countOfBytesReceived : 0;
  if (offset > 0 && offset === saved.countOfBytesExpectedToReceive) return { response: saved.response!, size: offset, parts: saved.parts };
  // A resume through a page's writer asks the server once, by the writer: it checks the range.
  const writing = offset > 0 ? await writerFor(saved, saved.countOfBytesExpectedToReceive - offset) : undefined;
  if (writing) return resumeWritten(ctx, writing, saved, offset);
  let response = await request(ctx, saved, offset);
  let placement = bodyPlacement(response, offset, offset > 0 ? { validator: saved.validator!, size: saved.countOfBytesExpectedToReceive } : undefined);
  if (!placement && offset > 0) {
    // A range not provably of the file kept (another version, or one whose hidden headers do
    // not prove it): the file starts again from zero, never spliced.
    await response.body?.cancel().catch(() => undefined);
    response = await request(ctx, saved, 0);
    placement = bodyPlacement(response, 0);
  }
  const { url } = requestOf(task);
  if (!placement) throw new URLError('badServerResponse', `The server answered a range that was not asked for (${url})`);
  const size = saved.countOfBytesExpectedToReceive >= 0 && placement.start > 0 ? saved.countOfBytesExpectedToReceive : placement.size;
  // A page's writer stores a large body at the browser's own pace (it has sync access handles):
  // this request, which told the file's size and version, goes no further.
  const writer = await writerFor(saved, size - placement.start);
  if (writer) await response.body?.cancel().catch(() => undefined);
  await ctx.idle.exempt(() => admit(ctx, response, size >= 0 ? size - placement.start : -1));
  let fileResponse = saved.response;
  // What the response tells, recorded with the first part when the file fits in it (nothing
  // kept to drop, and a stop loses no more than that part); else before any part.
  let first: Partial<TaskRecord> | undefined;
  if (placement.start === 0) {
    fileResponse = { ...responseRecord(response, url), status: 200 };
    first = { validator: validatorOf(response.headers), response: fileResponse, countOfBytesExpectedToReceive: placement.size };
    if (saved.parts > 0 || placement.size < 0 || placement.size > MIN_PART_SIZE) {
      // The whole file, perhaps a new version of it: drop what was kept of any other.
      const fresh = { ...first, parts: 0, partsBy: [], countOfBytesReceived: 0 };
      await ctx.idle.exempt(async () => {
        if (saved.parts > 0) await deleteParts(task.sessionId, task.taskIdentifier);
        await sink.save(task, fresh);
      });
      first = undefined;
    }
  }
  const limit = clientLimit(task);
  if (size > limit) throw tooLarge(url, limit);
  let body: ReadableStream<Uint8Array> | undefined;
  if (first && response.status === 200) {
    const whole = await storeWhole(ctx, response, fileResponse!, size, limit);
    if (whole && !(whole instanceof ReadableStream)) return whole;
    body = whole;
  }
  const parts = placement.start === 0 ? 0 : saved.parts;
  const partsBy = partOwners(saved, parts);
  // Only a file whose request names its digest is hashed: hashing every body halved the engine's pace.
  const digest = saved.originalRequest.integrity ? await ctx.idle.exempt(() => hashParts(saved, parts, partsBy)) : undefined;
  const at = { start: placement.start, size, limit, parts, partsBy, first, digest };
  const stored = writer
    ? await writeParts(
        ctx,
        writer,
        response,
        requestHeaders(task, saved, placement.start),
        placement.start === 0 ? validatorOf(response.headers) : saved.validator,
        at,
      )
    : await storeParts(ctx, body ?? response.body!, at);
  if (!stored) return;
  return { response: fileResponse!, size: stored.kept, parts: stored.parts, partsBy: stored.partsBy };
}

/** The most bytes the task's file may have (`countOfBytesClientExpectsToReceive`). */
function clientLimit(task: TaskRecord): number {
  return task.countOfBytesClientExpectsToReceive > 0 ? task.countOfBytesClientExpectsToReceive : Infinity;
}

/** Resumes a large download through a page's writer, from the bytes kept. */
async function resumeWritten(ctx: AttemptContext, writer: PageWriter, saved: TaskRecord, offset: number): Promise<Finished | undefined> {
  const { task } = ctx;
  const [size, limit] = [saved.countOfBytesExpectedToReceive, clientLimit(task)];
  if (size > limit) throw tooLarge(requestOf(task).url, limit);
  const at = { start: offset, size, limit, parts: saved.parts, partsBy: partOwners(saved, saved.parts), first: undefined, digest: undefined };
  const stored = await writeParts(ctx, writer, undefined, requestHeaders(task, saved, offset), saved.validator, at);
  return stored && { response: saved.response!, size: stored.kept, parts: stored.parts, partsBy: stored.partsBy };
}

/**
 * Refuses a response before its body is read: one of a type the session does not expect
 * (`expectedContentTypes`), or one whose `needed` bytes do not fit in the origin's storage.
 */
async function admit({ task, configuration }: AttemptContext, response: Response, needed: number): Promise<void> {
  const announced = { url: requestOf(task).url, contentType: response.headers.get('Content-Type'), needed, status: response.status };
  const refused = await refusal(announced, configuration);
  if (!refused) return;
  await response.body?.cancel().catch(() => undefined);
  throw refused;
}

/** Sends the attempt's request, from `offset` on; throws what a failed one means. */
async function request(ctx: AttemptContext, saved: TaskRecord, offset: number): Promise<Response> {
  const { task, signal, idle, sink } = ctx;
  const { url, method } = requestOf(task);
  const headers = requestHeaders(task, saved, offset);
  let response: Response;
  const aborts = AbortSignal.any([signal, idle.signal]);
  idle.touch(); // the wait for data starts with the request, not with the reads of the task before it
  const transaction = startTransaction('stream', { url, method, range: headers.get('Range') });
  ctx.transactions.push(transaction);
  try {
    response = await fetch(url, { method, headers, signal: aborts, cache: 'no-store' });
    responded(transaction, response);
  } catch (error) {
    const cause = new URLError('networkConnectionLost', `The download of ${url} failed: ${String(error)}`);
    throw new Retryable(cause, null, failedBeforeResponse(error, aborts));
  }
  if (response.status === 416 && offset > 0) {
    // The file shrank or changed: start it again from zero.
    await sink.save(task, { parts: 0, partsBy: [], validator: null, countOfBytesReceived: 0 });
    throw new Retryable(new URLError('badServerResponse', `HTTP 416 for ${url}`, 416), '0');
  }
  if (!response.ok) throw statusError(response, url);
  return response;
}

/** The headers of a request for the task's body from `offset` on. */
function requestHeaders(task: TaskRecord, saved: TaskRecord, offset: number): Headers {
  const { url, headers: asked } = requestOf(task);
  const headers = new Headers(asked);
  if (offset > 0) {
    headers.set('Range', `bytes=${offset}-`);
    // If-Range is not CORS-safelisted: to another origin it needs a preflight, which most CDNs
    // do not answer. Range alone is; the 206 is checked instead (`continuesFile`).
    if (!isCrossOrigin([url, saved.response?.url])) headers.set('If-Range', saved.validator!);
  }
  return headers;
}

/**
 * A file stored whole, if it can be: a small one (a 200 of known size, nothing kept before) is
 * read and written with its completion, in the database (Cache Storage costs the browser far
 * more per file); a same-origin one is stored as the response itself, natively, no body through
 * JavaScript. (CORS may hide another origin's Content-Encoding: its size is known only once
 * its body is read.) Undefined if neither applies; the body's stream, as read so far and on,
 * if a small one turns out larger than announced (an encoding CORS hid): it is stored in parts.
 */
async function storeWhole(
  ctx: AttemptContext,
  response: Response,
  fileResponse: ResponseRecord,
  size: number,
  limit: number,
): Promise<Finished | ReadableStream<Uint8Array> | undefined> {
  const { task, signal } = ctx;
  const { url } = requestOf(task);
  const failure = (error: unknown) => attemptFailure(error, url, signal);
  if (size >= 0 && size <= SMALL_FILE_SIZE) {
    let body: ArrayBuffer | ReadableStream<Uint8Array>;
    try {
      // A body the headers bound (this origin's, not encoded) is read at once; one whose decoded
      // length nothing bounds (another origin may hide Content-Encoding) only up to the limit.
      const bounded = response.type === 'basic' && !response.headers.has('Content-Encoding');
      const reading = bounded ? response.arrayBuffer() : readUpTo(response.body!, SMALL_FILE_SIZE);
      reading.catch(() => undefined); // given up first, its failure is no news
      body = await Promise.race([reading, givenUp(ctx)]);
    } catch (error) {
      throw failure(error);
    }
    if (body instanceof ReadableStream) return body;
    if (body.byteLength > limit) throw tooLarge(url, limit);
    return { response: fileResponse, size: body.byteLength, parts: 0, body };
  }
  if (response.type !== 'basic' || /(^|,)\s*\*\s*(,|$)/.test(response.headers.get('Vary') ?? '')) return undefined;
  try {
    await putPart(task.sessionId, task.taskIdentifier, 0, response, task.transferId!);
  } catch (error) {
    throw failure(error);
  }
  return { response: fileResponse, size, parts: 1, partsBy: [task.transferId!] };
}

/** What an error met while storing a body means: out of room, cancelled, or worth another try. */
export function attemptFailure(error: unknown, url: string, signal: AbortSignal): unknown {
  if (signal.aborted) return error;
  if (isQuotaError(error)) return storageFull(url, error);
  return new Retryable(new URLError('networkConnectionLost', `The download of ${url} was cut off: ${String(error)}`));
}

/** The error of a response larger than `countOfBytesClientExpectsToReceive`. */
export function tooLarge(url: string, limit: number): URLError {
  return new URLError('dataLengthExceedsMaximum', `The response of ${url} is larger than countOfBytesClientExpectsToReceive (${limit} bytes)`);
}

/**
 * A body read whole if it holds at most `max` bytes; else a stream of it from its first byte
 * (the chunks read, then the rest), so that no more than `max` bytes are ever held.
 */
async function readUpTo(body: ReadableStream<Uint8Array>, max: number): Promise<ArrayBuffer | ReadableStream<Uint8Array>> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total > max) {
      return new ReadableStream<Uint8Array>({
        start: (controller) => chunks.splice(0).forEach((chunk) => controller.enqueue(chunk)),
        pull: async (controller) => {
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
    }
  }
  const whole = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) whole.set(chunk, (at += chunk.byteLength) - chunk.byteLength);
  return whole.buffer;
}
