/**
 * How the streaming engine stores a body as it arrives: in parts (each one Cache Storage
 * entry) of about half a second of the transfer, from 256 KiB up to `PART_SIZE / 2`,
 * recording in the task the parts stored and their bytes. One part fills while the ones before
 * commit, so a stop at any byte loses at most the parts in flight (`PART_SIZE`).
 */
import { requestOf } from '../../currentRequest.js';
import { URLError } from '../../../common/errors.js';
import type { IHasher } from 'hash-wasm';
import type { DigestState, TaskRecord } from '../../../common/schema.js';
import { PART_SIZE } from '../../../common/cacheKeys.js';
import { isQuotaError } from '../../quota.js';
import { notify } from '../../notify.js';
import { putPart } from '../../store/parts.js';
import { attemptFailure, givenUp, Retryable, tooLarge, type AttemptContext } from './attempt.js';
import { CHUNK_SIZE, PartReader } from './PartReader.js';

/** How often, at most, a transfer reports its progress to the pages. */
const PROGRESS_INTERVAL_MS = 100;

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
export const MIN_PART_SIZE = 256 * 1024;

/** A part holds about this long of the transfer, so that a slow link keeps small parts. */
const PART_DURATION_MS = 500;

/** Where a body goes: from byte `start` of a file of `size` (-1: unknown), after `parts` parts. */
export interface Placement {
  start: number;
  size: number;
  limit: number;
  parts: number;
  /** Who wrote each of the `parts` before (see `TaskRecord.partsBy`). */
  partsBy: string[];
  /** What the response told, to record with the first part (a file whole in it), if not yet. */
  first: Partial<TaskRecord> | undefined;
  /** The file's hash up to `start`, which the body's bytes go on (see `integrity.ts`), if it is hashed. */
  digest: { hash: IHasher; state: Omit<DigestState, 'state'> } | undefined;
}

/** The state of one body's parts: bytes handed to parts, and bytes stored and recorded. */
interface Progress {
  filled: number;
  kept: number;
  parts: number;
  /** Who wrote each part: this transfer, from `Placement.parts` on. */
  partsBy: string[];
  first: Partial<TaskRecord> | undefined;
  reported: number;
  /** The last part's commit and record; `recording`: those not yet awaited, oldest first. */
  stored: Promise<void>;
  recording: Promise<void>[];
}

/**
 * Stores a body in parts. Returns the bytes kept and the parts, or undefined when suspended
 * before the end. A body that ended (the browser fails one cut short of its Content-Length)
 * is whole, even of another length than announced: it was encoded (CORS hides that).
 */
export async function storeParts(
  ctx: AttemptContext,
  stream: ReadableStream<Uint8Array>,
  at: Placement,
): Promise<{ kept: number; parts: number; partsBy: string[] } | undefined> {
  const { stop, signal } = ctx;
  const { url } = requestOf(ctx.task);
  const body = new PartReader(stream, ctx.pool);
  // A suspend ends the part being read at the bytes it has; a cancel or a timeout fails it.
  const suspended = new Promise<undefined>((resolve) => {
    if (stop.aborted) resolve(undefined);
    else stop.addEventListener('abort', () => resolve(undefined), { once: true });
  });
  const stopped = Promise.race([suspended, givenUp(ctx)]);
  stopped.catch(() => undefined); // seen by the read it interrupts, if any
  const progress: Progress = {
    filled: at.start,
    kept: at.start,
    parts: at.parts,
    partsBy: [...at.partsBy],
    first: at.first,
    reported: 0,
    stored: Promise.resolve(),
    recording: [],
  };
  const exceeded: { error?: URLError } = {};
  try {
    let partSize = MIN_PART_SIZE;
    for (;;) {
      // The bytes not yet recorded stay within PART_SIZE: the oldest parts are stored first.
      while (progress.filled - progress.kept + partSize > PART_SIZE && progress.recording.length > 0) await progress.recording.shift();
      if (stop.aborted) break;
      // Past the length announced, a part begins only if the body goes on (an encoded body).
      const past = at.size >= 0 && progress.filled >= at.size;
      const head = past ? await Promise.race([body.read(partSize), stopped]) : undefined;
      if (past && !head) break;
      const began = performance.now();
      const bytes = await storePart(ctx, body, progress, at, partSize, head, stopped, exceeded);
      if (bytes < partSize || body.done) break;
      const ms = performance.now() - began;
      const fit = ms > 0 ? (bytes * PART_DURATION_MS) / ms : MAX_PART_SIZE;
      partSize = Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, Math.round(fit / CHUNK_SIZE) * CHUNK_SIZE));
    }
    await progress.stored;
  } catch (error) {
    await progress.stored.catch(() => undefined); // the parts that came whole stay recorded
    throw exceeded.error ?? attemptFailure(error, url, signal);
  } finally {
    body.cancel();
  }
  if (stop.aborted && progress.kept !== at.size) return;
  if (at.size >= 0 && progress.kept !== at.size && !body.done) {
    throw new Retryable(new URLError('networkConnectionLost', `The download of ${url} ended at ${progress.kept} of ${at.size} bytes`));
  }
  return { kept: progress.kept, parts: progress.parts, partsBy: progress.partsBy.slice(0, progress.parts) };
}

/**
 * Fills one part of at most `max` bytes and starts its commit (recorded once the parts before
 * it are); returns the bytes it took. An empty part is not kept (but a first one: the file may
 * be empty).
 */
async function storePart(
  ctx: AttemptContext,
  body: PartReader,
  progress: Progress,
  at: Placement,
  max: number,
  head: Uint8Array | undefined,
  stopped: Promise<undefined>,
  exceeded: { error?: URLError },
): Promise<number> {
  const { task, sink, pool, idle } = ctx;
  const { sessionId, taskIdentifier } = task;
  const index = progress.parts;
  const buffers: ArrayBuffer[] = [];
  let settle!: { resolve: (bytes: number) => void; reject: (error: unknown) => void };
  const part = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  let partBytes = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull: async (controller) => {
        try {
          // A suspend ends the part at the bytes received (a read in flight is dropped).
          const reading = head ? Promise.resolve(head) : body.read(max - partBytes);
          head = undefined;
          reading.catch(() => undefined);
          const chunk = await Promise.race([reading, stopped]);
          if (!chunk) return (controller.close(), settle.resolve(partBytes));
          idle.touch();
          partBytes += chunk.byteLength;
          buffers.push(chunk.buffer as ArrayBuffer);
          at.digest?.hash.update(chunk);
          if (progress.filled + partBytes > at.limit) throw (exceeded.error = tooLarge(requestOf(task).url, at.limit));
          controller.enqueue(chunk);
          reportProgress(task, progress, progress.filled + partBytes, at.size);
          if (partBytes === max) (controller.close(), settle.resolve(partBytes));
        } catch (error) {
          controller.error(error);
          settle.reject(error);
        }
      },
      cancel: (reason) => settle.reject(reason),
    },
    new CountQueuingStrategy({ highWaterMark: READ_AHEAD }),
  );
  const put = putPart(sessionId, taskIdentifier, index, stream, task.transferId!);
  put.catch((error) => settle.reject(error)); // a write that fails before the part is filled
  // Out of room, Firefox's Cache Storage cancels the part's body (an AbortError, or the pull's
  // next enqueue fails) before its put rejects with the cause: the put says why.
  const bytes = await part.catch(async (error: unknown) => {
    throw await put.then(
      () => error,
      (cause: unknown) => (isQuotaError(cause) ? cause : error),
    );
  });
  if (bytes === 0 && index > 0) return bytes;
  progress.parts = index + 1;
  progress.partsBy[index] = task.transferId!;
  const partsBy = progress.partsBy.slice(0, index + 1);
  const end = (progress.filled += bytes);
  // The hash of the file up to the part's end, kept with the part: a restart goes on from it.
  const digest: DigestState | undefined = at.digest && { ...at.digest.state, parts: index + 1, bytes: end, partsBy, state: at.digest.hash.save() };
  progress.stored = Promise.all([progress.stored, put]).then(async () => {
    // Cache Storage has read every byte of the part: its buffers can take new ones.
    pool.give(buffers);
    // A file whole in its first part is recorded by its completion, in one write.
    if (!progress.first || end !== at.size) {
      // Past the length announced, the size is not known (see `reportProgress`).
      const unknown = at.size >= 0 && end > at.size ? { countOfBytesExpectedToReceive: -1 } : {};
      await sink.save(task, { ...progress.first, ...unknown, parts: index + 1, partsBy, countOfBytesReceived: end, ...(digest ? { digest } : {}) });
    }
    progress.first = undefined;
    progress.kept = end;
    idle.touch(); // a wait on storage is not one on the network
  });
  progress.stored.catch(() => undefined); // seen by the next wait, or at the end
  progress.recording.push(progress.stored);
  return bytes;
}

/** Tells the pages how far a transfer is, at most every PROGRESS_INTERVAL_MS. */
function reportProgress(task: TaskRecord, progress: Progress, received: number, expected: number): void {
  if (Date.now() - progress.reported < PROGRESS_INTERVAL_MS) return;
  progress.reported = Date.now();
  // Past the length announced, the body was encoded (CORS hid it): its size is not known.
  notify({ type: 'progress', sessionId: task.sessionId, taskIdentifier: task.taskIdentifier, received, expected: received > expected ? -1 : expected });
}
