/**
 * The request a task's transfer sends, as `URLSessionTask.currentRequest`: the new request its
 * delegate gave (`willBeginDelayedRequest`), else the one it was made with, under which go the
 * session's `httpAdditionalHeaders` (the task's own headers win). It is worked out when each
 * transfer starts, so new session headers apply to the transfers that start after them.
 */
import type { ConfigurationRecord, RequestRecord, TaskRecord } from '../common/schema.js';

/** What a transfer starting now sends for the task. */
export function requestToSend(
  task: Pick<TaskRecord, 'originalRequest' | 'newRequest'>,
  configuration: Pick<ConfigurationRecord, 'httpAdditionalHeaders'> | undefined,
): RequestRecord {
  const request = task.newRequest ?? task.originalRequest;
  const extra = configuration?.httpAdditionalHeaders ?? [];
  const own = new Set(request.headers.map(([name]) => name.toLowerCase()));
  const added = extra.filter(([name]) => !own.has(name.toLowerCase()));
  return added.length === 0 ? request : { ...request, headers: [...added, ...request.headers] };
}

/** What the task's transfer in flight sends (a task stored before there was one: its original request). */
export function requestOf(task: Pick<TaskRecord, 'originalRequest' | 'newRequest' | 'currentRequest'>): RequestRecord {
  return task.currentRequest ?? task.newRequest ?? task.originalRequest;
}
