/**
 * What a Background Fetch registration asks for a task: its request, or the byte ranges of its
 * file after the bytes kept; pure, so that the scheduler can plan a hand-over with it.
 */
import { requestOf } from '../../currentRequest.js';
import type { RequestRecord, TaskRecord } from '../../../common/schema.js';
import { PART_SIZE } from '../../../common/cacheKeys.js';
import { distinctRanges, rangesFrom } from '../../http.js';

/**
 * The bytes of one request of a ranged registration: half a part. Chromium runs a
 * registration's requests two at a time and keeps nothing of a request in flight when the
 * browser stops, so a restart costs at most the two requests in flight: one part's worth.
 */
export const REQUEST_SIZE = PART_SIZE / 2;

/** What a task's part of a registration asks: its request, or its ranges (from the parts stored). */
export function requestsOf(task: TaskRecord): RequestRecord[] {
  // The library checks `integrity` against the whole file; a range would fail it.
  const { url, method, headers } = requestOf(task);
  const request = { url, method, headers };
  // `plan` keeps a validator only for a task fetched in ranges.
  if (task.validator === null) return [request];
  const { receivedAtStart, countOfBytesReceived: received, countOfBytesExpectedToReceive: size } = task;
  const ranges = task.distinctRanges ? distinctRanges(receivedAtStart, size, REQUEST_SIZE) : rangesFrom(received, size, REQUEST_SIZE);
  return ranges.filter(({ first }) => first >= received).map(({ first, last }) => rangeRequest(request, first, last));
}

/** A `GET` of the file's bytes `first` to `last`. */
function rangeRequest(request: RequestRecord, first: number, last: number): RequestRecord {
  return { ...request, headers: [...request.headers, ['Range', `bytes=${first}-${last}`]] };
}

/** The title of a registration of one task: its description, else its file's name. */
export function orderTitle(task: TaskRecord): string {
  const { url } = task.originalRequest;
  return task.taskDescription || new URL(url).pathname.split('/').pop() || url;
}
