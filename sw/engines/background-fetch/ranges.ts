/**
 * How a Background Fetch registration fetches a task in byte ranges, and how its records are
 * read back: each range that came whole (206, the range asked, the version the `HEAD` named,
 * every byte) is stored as a part of its own.
 */
import { requestOf } from '../../currentRequest.js';
import type { RequestRecord, TaskRecord } from '../../../common/schema.js';
import { PART_SIZE, partOwners } from '../../../common/cacheKeys.js';
import type { URLError } from '../../../common/errors.js';
import { refusal } from '../../admission.js';
import { contentLength, parseContentRange, parseRange, rangesOf, validatorOf } from '../../http.js';
import { hashParts, hashStream } from '../../integrity.js';
import { requestsOf } from './requests.js';
import { corsBlocked, failedBeforeResponse, refusedByCors } from '../../cors.js';
import { responseRecord } from '../../responseRecord.js';
import { deleteParts, putPart } from '../../store/parts.js';
import type { TransferSink } from '../Engine.js';

/** How long `start` waits for the answer to its `HEAD` before it orders the file as one request. */
const PROBE_TIMEOUT_MS = 10_000;

/** How many `HEAD`s a registration of many tasks sends at a time (HTTP/1.1's per-host limit). */
export const PROBES_AT_ONCE = 6;

/** How long a record's response is waited for before its request is taken as not finished. */
export const FINISHED_WAIT_MS = 50;

/** How long a running registration's finished record is given to hand over its body. */
const FOLLOW_BODY_MS = 2000;

/** How long an ended registration's record is given to answer, and to hand over its body. */
const ENDED_RECORD_MS = 10_000;

/**
 * What a registration fetches for a task: its request, or the byte ranges of its file not
 * stored yet; with the bytes stored before and the bytes it may take (if known). Nothing if
 * the task is no longer this transfer's, or its file is stored whole already.
 */
export async function plan(
  sink: TransferSink,
  task: TaskRecord,
  alone: boolean,
): Promise<{ requests: RequestRecord[]; received: number; total?: number } | undefined> {
  const probed = await probe(task, alone);
  if (probed === 'refused') {
    // Chromium would fail the registration as `fetch-error` some 20 s later, as after a restart.
    await sink.complete(task, { error: corsBlocked(requestOf(task).url) });
    return;
  }
  const refused = probed && (await refusalOf(sink, task, probed));
  if (refused) {
    await sink.complete(task, { error: refused });
    return;
  }
  const file = probed?.file;
  if (!file) {
    // One request for the whole file: what is stored of it is of no use to this registration.
    // The size the HEAD announced is kept, to check a body that comes without a length by.
    if (task.parts > 0) await deleteParts(task.sessionId, task.taskIdentifier);
    const announced = { countOfBytesExpectedToReceive: probed?.announced ?? -1 };
    const reset = { parts: 0, partsBy: [], validator: null, countOfBytesReceived: 0, receivedAtStart: 0, distinctRanges: false };
    if (!(await sink.save(task, { ...reset, ...announced }))) return;
    const limit = task.countOfBytesClientExpectsToReceive;
    return { requests: [requestOf(task)], received: 0, ...(limit > 0 ? { total: limit } : {}) };
  }
  const { size, validator, response, hidden } = file;
  // The parts stored are of this version of the file, or are dropped.
  const kept = task.validator === validator && task.countOfBytesExpectedToReceive === size ? task.parts : 0;
  if (kept === 0 && task.parts > 0) await deleteParts(task.sessionId, task.taskIdentifier);
  const received = kept > 0 ? task.countOfBytesReceived : 0;
  const update = {
    parts: kept,
    partsBy: partOwners(task, kept),
    validator,
    response,
    countOfBytesReceived: received,
    receivedAtStart: received,
    countOfBytesExpectedToReceive: size,
    distinctRanges: hidden,
  };
  if (!(await sink.save(task, update))) return;
  if (received >= size) {
    // Every part is stored already (the last transfer stopped before it could say so).
    await sink.complete(task, { response, size, parts: kept, partsBy: partOwners(task, kept) });
    return;
  }
  const requests = requestsOf({ ...task, ...update });
  // Bounds the bytes a server that ignores Range (a whole file per request) could waste.
  return { requests, received, total: size - received };
}

/** Why a file its `HEAD` described is refused before the registration spends its bytes (see `refusal`). */
async function refusalOf(sink: TransferSink, task: TaskRecord, { announced, type, file }: Probed): Promise<URLError | undefined> {
  const kept = file && task.validator === file.validator && task.countOfBytesExpectedToReceive === file.size ? task.countOfBytesReceived : 0;
  const needed = (file?.size ?? announced) - kept;
  return refusal({ url: requestOf(task).url, contentType: type, needed, status: 200 }, await sink.configuration(task.sessionId));
}

/** What `probe` learnt of a file. */
type Probed = Exclude<Awaited<ReturnType<typeof probe>>, 'refused' | undefined>;

/** A request's identity within a registration: method, URL and range. */
function requestKey(method: string, url: string, range: string | null | undefined): string {
  return `${method} ${url} ${range ?? ''}`;
}

/**
 * Each task's records: the ones whose requests it asked. Two tasks that asked the very same
 * request take its records in turn.
 */
export function recordsByTask(tasks: TaskRecord[], records: readonly BackgroundFetchRecord[]): BackgroundFetchRecord[][] {
  const pool = new Map<string, BackgroundFetchRecord[]>();
  for (const record of records) {
    const key = requestKey(record.request.method, record.request.url, record.request.headers.get('Range'));
    pool.set(key, [...(pool.get(key) ?? []), record]);
  }
  return tasks.map((task) =>
    requestsOf(task).flatMap(({ method, url, headers }) => {
      const range = headers.find(([name]) => name.toLowerCase() === 'range')?.[1];
      const record = pool.get(requestKey(method, url, range))?.shift();
      return record ? [record] : [];
    }),
  );
}

/**
 * Why a task of a failed registration failed, from its own records: an error status of its
 * own, else a request of its own that did not finish (`fetch-error`, whatever another task's
 * status was), else the registration's reason.
 */
export async function reasonOf(
  records: BackgroundFetchRecord[],
  expected: number,
  reason: BackgroundFetchFailureReason,
): Promise<{ reason: BackgroundFetchFailureReason; ok: boolean }> {
  let finished = 0;
  for (const record of records) {
    const response = await record.responseReady.catch(() => undefined);
    if (response && !response.ok) return { reason: 'bad-status', ok: false };
    if (response) finished++;
  }
  if (finished === expected && records.length === expected) return { reason, ok: true };
  return { reason: reason === 'bad-status' ? 'fetch-error' : reason, ok: false };
}

/**
 * Stores, a part each, a task's ranges that came whole, from its bytes kept on, in order; returns
 * the bytes and parts kept then, or undefined if the task is no longer this transfer's. With
 * `wait`, a registration still running: a record not answered within `wait` ms is unfinished.
 */
export async function storeLeading(
  sink: TransferSink,
  task: TaskRecord,
  records: BackgroundFetchRecord[],
  wait?: number,
): Promise<{ received: number; parts: number; partsBy: string[] } | undefined> {
  const size = task.countOfBytesExpectedToReceive;
  const byFirst = new Map<number, { record: BackgroundFetchRecord; last: number }>();
  for (const record of records) {
    const range = parseRange(record.request.headers.get('Range'));
    if (range && range.last < size) byFirst.set(range.first, { record, last: range.last });
  }
  // The ranges start at the bytes kept when the registration was ordered (parts vary in size):
  // each range that came whole is stored as a part of its own.
  let parts = task.parts;
  const partsBy = partOwners(task, parts);
  let received = task.countOfBytesReceived;
  // (A kept part that cannot be read is hashed again, and fails, when the file is handed over.)
  const hashing = task.originalRequest.integrity ? await hashParts(task, parts, partsBy).catch(() => undefined) : undefined;
  for (; received < size; parts++) {
    // Each range as asked (its length may be its own, `distinctRanges`).
    const asked = byFirst.get(received);
    if (!asked) break;
    const { record, last } = asked;
    let blob = await wholeRange(record, received, last, size, task.validator!, wait);
    // A body handed over for another range (seen in Chromium 156 after a browser was killed):
    // where each range has a length of its own, this range's is found by its length.
    if (!blob && task.distinctRanges && wait === undefined) blob = await foundElsewhere([...byFirst.values()], received, last, size, task.validator!);
    if (!blob) break;
    // The range's Blob is disk-backed: the part is stored without a copy in memory.
    await putPart(task.sessionId, task.taskIdentifier, parts, blob, task.transferId!);
    partsBy.push(task.transferId!);
    // Hashed as it is stored (a read of the range, not of the file at its end).
    if (hashing) await hashStream(hashing.hash, blob.stream());
    const digest = hashing && { ...hashing.state, parts: parts + 1, bytes: last + 1, partsBy: [...partsBy], state: hashing.hash.save() };
    if (!(await sink.save(task, { parts: parts + 1, partsBy: [...partsBy], countOfBytesReceived: last + 1, ...(digest ? { digest } : {}) }))) return;
    received = last + 1;
  }
  return { received, parts, partsBy };
}

/**
 * What a `HEAD` says of the file: the size it announces (-1: none), and its size, version and
 * response if it can be fetched in ranges (a `GET` larger than a part, from a server that
 * serves ranges and names versions); `refused` if the server refuses this origin (CORS).
 */
async function probe(task: TaskRecord, alone: boolean) {
  const { url, method, headers } = requestOf(task);
  if (method !== 'GET' || headers.some(([name]) => /^(range|if-range)$/i.test(name))) return undefined;
  let response: Response;
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  try {
    response = await fetch(url, { method: 'HEAD', headers, cache: 'no-store', signal });
  } catch (error) {
    // A HEAD may be refused where a GET is not (CORS rules per method): the GET is asked too.
    if (failedBeforeResponse(error, signal) && (await refusedByCors(requestOf(task)))) return 'refused';
    return undefined; // the registration will tell what is wrong, as it did before
  }
  // Proven by lengths alone, a registration's ranges must be one task's (see `distinctRanges`).
  const shown = rangesOf(response);
  const file = shown ? { ...shown, hidden: false } : response.type === 'cors' && alone ? await lastByte(task, response, signal) : null;
  const announced = response.ok ? contentLength(response.headers) : -1;
  const type = response.ok ? response.headers.get('Content-Type') : null;
  // A file over the client's limit goes as one request, which fails as such (`download-total-exceeded`).
  const limit = task.countOfBytesClientExpectsToReceive;
  if (!file || file.size <= PART_SIZE || (limit > 0 && file.size > limit)) return { announced, type };
  return { announced, type, file: { ...file, response: { ...responseRecord(response, url), status: 200 } } };
}

/**
 * From another origin CORS may hide `Accept-Ranges`, `ETag` and `Content-Encoding` (a CDN sends
 * only `Access-Control-Allow-Origin: *`): the file is fetched in ranges if its `HEAD` gives a
 * `Content-Length` and a `Last-Modified`, and a `GET` of its last byte by that length
 * (`Range` alone is safelisted) is a `206` of one byte of that version: the server serves
 * ranges, and the length is the file's, not an encoded body's.
 */
async function lastByte(task: TaskRecord, head: Response, signal: AbortSignal): Promise<{ size: number; validator: string; hidden: true } | null> {
  const size = contentLength(head.headers);
  const validator = validatorOf(head.headers);
  if (head.status !== 200 || size <= PART_SIZE || !validator) return null;
  const { url, headers } = requestOf(task);
  try {
    const response = await fetch(url, { headers: [...headers, ['Range', `bytes=${size - 1}-`]], cache: 'no-store', signal });
    await response.body?.cancel();
    const whole = response.status === 206 && contentLength(response.headers) === 1 && validatorOf(response.headers) === validator;
    return whole ? { size, validator, hidden: true } : null;
  } catch {
    return null; // the registration will tell what is wrong
  }
}

/**
 * The body of a record if it is exactly the range asked, of the right version, every byte
 * (with `wait`: if it is answered within `wait` ms, i.e. its request finished).
 */
async function wholeRange(
  record: BackgroundFetchRecord | undefined,
  first: number,
  last: number,
  size: number,
  validator: string,
  wait?: number,
): Promise<Blob | undefined> {
  const ready = record?.responseReady.catch(() => undefined);
  // Even an ended registration's record is given a bounded time: one that never answers must
  // not hold the task up (a range not had in time is fetched again by the streaming engine).
  const response = await Promise.race([ready, new Promise<undefined>((resolve) => setTimeout(resolve, wait ?? ENDED_RECORD_MS))]);
  if (response?.status !== 206 || validatorOf(response.headers) !== validator) return undefined;
  // From another origin a hidden Content-Range is proven by the length (see `lastByte`).
  const hidden = response.type === 'cors' && !response.headers.has('Content-Range');
  const range = hidden
    ? { first, last: first + contentLength(response.headers) - 1, complete: size }
    : parseContentRange(response.headers.get('Content-Range'));
  if (range?.first !== first || range.last !== last || range.complete !== size) return undefined;
  // Likewise its body; while the registration runs, a body not had within FOLLOW_BODY_MS is
  // taken as unfinished.
  const blob = response.blob().catch(() => undefined);
  const body = await Promise.race([blob, new Promise<undefined>((resolve) => setTimeout(resolve, wait === undefined ? ENDED_RECORD_MS : FOLLOW_BODY_MS))]);
  return body?.size === last - first + 1 ? body : undefined;
}

/** Of a registration that ended, the body of range `first`..`last` among all its records. */
async function foundElsewhere(
  asked: { record: BackgroundFetchRecord }[],
  first: number,
  last: number,
  size: number,
  validator: string,
): Promise<Blob | undefined> {
  for (const { record } of asked) {
    const blob = await wholeRange(record, first, last, size, validator);
    if (blob) return blob;
  }
  return undefined;
}

/** The status of the first record that came back with an error status, if any. */
export async function failedStatus(records: BackgroundFetchRecord[]): Promise<number | undefined> {
  for (const record of records) {
    const response = await record.responseReady.catch(() => undefined);
    if (response && !response.ok) return response.status;
  }
  return undefined;
}
