/**
 * A body written by a page's writer (`writers.ts`) instead of the worker's own parts
 * (`storeParts`): the worker has checked the response and recorded what it told; the writer
 * fetches the body again from the same byte and writes it in parts of `PART_SIZE`, each
 * reported once it is flushed and recorded here in the task, in order. A stop at any byte
 * loses at most the part being written; a page that goes takes only that part with it, and
 * the next attempt goes on from the parts recorded.
 */
import { filePartOwner, PART_SIZE, temporaryKey } from '../../../common/cacheKeys.js';
import { URLError } from '../../../common/errors.js';
import type { WriterReport } from '../../../common/writerProtocol.js';
import { requestOf } from '../../currentRequest.js';
import { isRetryableStatus } from '../../http.js';
import { notify } from '../../notify.js';
import { storageFull } from '../../quota.js';
import { deletePart, filesCache } from '../../store/parts.js';
import { Retryable, tooLarge, type AttemptContext } from './attempt.js';
import type { Placement } from './storeParts.js';
import { pickWriter, type PageWriter } from './writers.js';
import type { TaskRecord } from '../../../common/schema.js';
import { responded, startTransaction } from '../../metrics.js';

/**
 * A body goes to a writer only if it has at least this many bytes to fetch: the writer's request
 * is a second one, which costs a round trip and what the worker's own request brought before it
 * was cancelled, against what writing saves per byte (bench/README.md, "A page's writer").
 */
export const WRITER_MIN_BYTES = 64 * 1024 * 1024;

/**
 * Transfers whose writer failed (but by going with its page): their next attempts do without
 * one, and ask the server themselves what it answers now (a 416, another version of the file).
 */
const withoutWriter = new Set<string>();

/**
 * A writer for a download that has `remaining` bytes to fetch, or undefined: for a small body,
 * one hashed as it comes (`integrity`), a request other than a `GET` (a writer sends no body),
 * or a transfer whose writer failed.
 */
export async function writerFor(task: TaskRecord, remaining: number): Promise<PageWriter | undefined> {
  if (withoutWriter.has(task.transferId!) || task.originalRequest.integrity || remaining < WRITER_MIN_BYTES) return undefined;
  return requestOf(task).method === 'GET' ? pickWriter() : undefined;
}

/**
 * Has `writer` fetch (with `headers`) and write the body from `at.start`, `response` (the
 * worker's own request, if it made one) cancelled. Returns the bytes kept and the parts, or
 * undefined when suspended before the end.
 */
export async function writeParts(
  ctx: AttemptContext,
  writer: PageWriter,
  response: Response | undefined,
  headers: Headers,
  validator: string | null,
  at: Placement,
): Promise<{ kept: number; parts: number; partsBy: string[] } | undefined> {
  await response?.body?.cancel().catch(() => undefined); // cancelled already, as the writer was picked
  const write = new Write(ctx, at);
  const { task, stop, idle } = ctx;
  const { url } = requestOf(task);
  const transaction = startTransaction('stream', { url, method: 'GET', range: headers.get('Range') });
  ctx.transactions.push(transaction);
  const aborts = AbortSignal.any([ctx.signal, idle.signal]);
  const unlisten = writer.listen(write.id, (report) => {
    idle.touch();
    if (report.type === 'responded') responded(transaction, report);
    else write.take(report);
  });
  const abort = () => (writer.send({ type: 'abort', id: write.id }), write.fail(aborts.reason));
  if (aborts.aborted) abort();
  aborts.addEventListener('abort', abort, { once: true });
  stop.addEventListener('abort', () => writer.send({ type: 'stop', id: write.id }), { once: true });
  void writer.gone.then(() => write.fail(new Retryable(new URLError('networkConnectionLost', `The page writing the download of ${url} went away`))));
  const { sessionId, taskIdentifier } = task;
  const order = { id: write.id, url, headers: [...headers], start: at.start, size: at.size, validator, sessionId, taskIdentifier };
  writer.send({ type: 'write', ...order, firstPart: at.parts, by: write.by, partSize: PART_SIZE });
  try {
    return await write.ended;
  } finally {
    unlisten();
    aborts.removeEventListener('abort', abort);
  }
}

/** One write as the worker follows it: the parts reported, recorded in the task in order. */
class Write {
  readonly id = crypto.randomUUID();
  readonly by: string;
  readonly #partsBy: string[];
  #parts: number;
  #recorded: Promise<unknown> = Promise.resolve();
  /** Done or failed: later news (the writer going, after its last write) changes nothing. */
  #settled = false;
  #settle!: { resolve: (kept: { kept: number; parts: number; partsBy: string[] } | undefined) => void; reject: (error: unknown) => void };
  /** The bytes kept and the parts once the writer is done (undefined: stopped before the end). */
  readonly ended = new Promise<{ kept: number; parts: number; partsBy: string[] } | undefined>((resolve, reject) => (this.#settle = { resolve, reject }));

  constructor(
    private readonly ctx: AttemptContext,
    private readonly at: Placement,
  ) {
    // Each write's own: a part cut off, which its writer may still hold, is no other write's file.
    this.by = filePartOwner(this.id);
    this.#partsBy = [...at.partsBy];
    this.#parts = at.parts;
  }

  /** A report of the writer's (none counts once the write failed: its part cut off is being deleted). */
  take(report: WriterReport): void {
    if (this.#settled) return;
    const { task, sink } = this.ctx;
    const { url } = requestOf(task);
    const end = report.type === 'progress' ? report.received : report.type === 'part' ? report.end : 0;
    if (end > this.at.limit) return this.fail(tooLarge(url, this.at.limit));
    if (report.type === 'progress')
      // Past the length announced, the body was encoded (CORS hid it): its size is not known.
      notify({
        type: 'progress',
        sessionId: task.sessionId,
        taskIdentifier: task.taskIdentifier,
        received: end,
        expected: end > this.at.size ? -1 : this.at.size,
      });
    else if (report.type === 'part') {
      if (report.index !== this.#parts)
        return this.fail(new Retryable(new URLError('networkConnectionLost', `A page's writer wrote part ${report.index} of ${url} out of turn`)));
      this.#partsBy[report.index] = this.by;
      const changes = { parts: (this.#parts = report.index + 1), partsBy: this.#partsBy.slice(0, this.#parts), countOfBytesReceived: end };
      this.#recorded = this.#recorded.then(() => sink.save(task, changes));
    } else if (report.type === 'done') {
      this.#settled = true;
      const whole = report.complete || report.end === this.at.size;
      void this.#recorded.then(
        () => this.#settle.resolve(whole ? { kept: report.end, parts: this.#parts, partsBy: this.#partsBy.slice(0, this.#parts) } : undefined),
        this.#settle.reject,
      );
    } else if (report.type === 'failed') {
      withoutWriter.add(task.transferId!);
      this.fail(writeFailure(report, url));
    }
  }

  /** Ends the write with `error`, once the parts reported are recorded; the part cut off is deleted. */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    const { sessionId, taskIdentifier } = this.ctx.task;
    void this.#recorded
      .catch(() => undefined)
      .then(() => {
        void dropCutPart(temporaryKey(sessionId, taskIdentifier, this.#parts, this.by));
        this.#settle.reject(error);
      });
  }
}

/** How long the deletion of a part cut off waits for its writer to let it go (a page closing ends it). */
const CUT_PART_WAIT_MS = 10_000;

/**
 * Deletes a part a write left cut off, once its writer lets it go: a writer still writing, or
 * ending with its page, holds the file a moment (Firefox ESR 153 refused its deletion then). A
 * stopped worker leaves it to the sweep of the session's parts.
 */
async function dropCutPart(key: string): Promise<void> {
  for (const until = Date.now() + CUT_PART_WAIT_MS; ;) {
    try {
      return await deletePart(await filesCache(), key, true);
    } catch {
      if (Date.now() > until) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** What a writer's failure means: out of room, an error status, or worth another try. */
function writeFailure(report: WriterReport & { type: 'failed' }, url: string): unknown {
  if (report.name === 'QuotaExceededError') return storageFull(url, report);
  if (report.status !== undefined && report.status >= 400) {
    const error = new URLError('badServerResponse', `The server answered with an error status: HTTP ${report.status} for ${url}`, report.status);
    return isRetryableStatus(report.status) ? new Retryable(error) : error;
  }
  const cause = new URLError('networkConnectionLost', `The download of ${url} failed in the page's writer: ${report.message}`, report.status);
  return new Retryable(cause);
}
