/**
 * A body written by a page's writer (`writers.ts`) instead of the worker's own parts
 * (`storeParts`): the worker has checked the response and recorded what it told; the writer
 * fetches the body again from the same byte and writes it in parts of `PART_SIZE`, each
 * reported once it is flushed and recorded here in the task, in order. A stop at any byte
 * loses at most the part being written; a page that goes takes only that part with it, and
 * the next attempt goes on from the parts recorded.
 */
import { filePartOwner, PART_SIZE } from '../../../common/cacheKeys.js';
import { URLError } from '../../../common/errors.js';
import type { WriterReport } from '../../../common/writerProtocol.js';
import { requestOf } from '../../currentRequest.js';
import { isRetryableStatus } from '../../http.js';
import { notify } from '../../notify.js';
import { storageFull } from '../../quota.js';
import { Retryable, tooLarge, type AttemptContext } from './attempt.js';
import type { Placement } from './storeParts.js';
import type { PageWriter } from './writers.js';

/** A body a writer is given only if it has at least this many bytes to fetch: a second request costs a round trip. */
export const WRITER_MIN_BYTES = PART_SIZE;

/**
 * Has `writer` fetch (with `headers`) and write the body `response` starts, from `at.start`.
 * Returns the bytes kept and the parts, or undefined when suspended before the end.
 */
export async function writeParts(
  ctx: AttemptContext,
  writer: PageWriter,
  response: Response,
  headers: Headers,
  validator: string | null,
  at: Placement,
): Promise<{ kept: number; parts: number; partsBy: string[] } | undefined> {
  const { task, sink, stop, idle } = ctx;
  const { url } = requestOf(task);
  await response.body?.cancel().catch(() => undefined);
  const id = crypto.randomUUID();
  const by = filePartOwner(task.transferId!);
  const partsBy = [...at.partsBy];
  let recorded: Promise<unknown> = Promise.resolve();
  let parts = at.parts;
  const aborts = AbortSignal.any([ctx.signal, idle.signal]);
  let unlisten: () => void = () => undefined;
  const ended = new Promise<WriterReport & { type: 'done' }>((resolve, reject) => {
    const fail = (error: unknown) => (writer.send({ type: 'abort', id }), reject(error));
    const onReport = (report: WriterReport) => {
      idle.touch();
      const end = report.type === 'progress' ? report.received : report.type === 'part' ? report.end : 0;
      if (end > at.limit) return fail(tooLarge(url, at.limit));
      if (report.type === 'progress') notify({ type: 'progress', sessionId: task.sessionId, taskIdentifier: task.taskIdentifier, received: end, expected: at.size });
      else if (report.type === 'part') {
        parts = report.index + 1;
        partsBy[report.index] = by;
        const changes = { parts, partsBy: partsBy.slice(0, parts), countOfBytesReceived: end };
        recorded = recorded.then(() => sink.save(task, changes));
      } else if (report.type === 'done') resolve(report);
      else reject(writeFailure(report, url));
    };
    unlisten = writer.listen(id, onReport);
    if (aborts.aborted) return fail(aborts.reason);
    aborts.addEventListener('abort', () => fail(aborts.reason), { once: true });
    stop.addEventListener('abort', () => writer.send({ type: 'stop', id }), { once: true });
    void writer.gone.then(() => reject(new Retryable(new URLError('networkConnectionLost', `The page writing the download of ${url} went away`))));
    const { sessionId, taskIdentifier } = task;
    writer.send({ type: 'write', id, url, headers: [...headers], start: at.start, size: at.size, validator, sessionId, taskIdentifier, firstPart: at.parts, by, partSize: PART_SIZE });
  });
  try {
    const done = await ended;
    await recorded;
    if (!done.complete && done.end !== at.size) return undefined;
    return { kept: done.end, parts, partsBy: partsBy.slice(0, parts) };
  } catch (error) {
    await recorded.catch(() => undefined); // the parts written whole stay recorded
    throw error;
  } finally {
    unlisten();
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
