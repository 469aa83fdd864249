import type { TaskView } from '../common/protocol.js';
import type { RequestRecord, TaskRecord } from '../common/schema.js';
import { requestOf } from './currentRequest.js';
import { suggestedFilename } from './responseRecord.js';

/**
 * What a page gets of a task (see `TaskView`): the page re-attaches many tasks at once, and
 * the structured clone of the whole records (each header a pair) was much of that time.
 */
export function taskView(task: TaskRecord): TaskView {
  const { taskIdentifier, kind, state, taskDescription, originalRequest, countOfBytesSent, countOfBytesExpectedToSend, countOfBytesReceived } = task;
  const { countOfBytesExpectedToReceive, countOfBytesClientExpectsToReceive, countOfBytesClientExpectsToSend, earliestBeginDate, priority } = task;
  const { waitingFor, engine, transferId, receivedAtStart, response, ask } = task;
  const currentRequest = requestOf(task);
  return {
    taskIdentifier,
    kind,
    state,
    taskDescription,
    originalRequest,
    // The page falls back to the original request: most tasks send it as it is.
    ...(!sameRequest(currentRequest, originalRequest) ? { currentRequest } : {}),
    countOfBytesSent,
    countOfBytesExpectedToSend,
    countOfBytesReceived,
    countOfBytesExpectedToReceive,
    countOfBytesClientExpectsToReceive,
    countOfBytesClientExpectsToSend,
    earliestBeginDate,
    priority,
    waitingFor,
    ...(ask ? { ask } : {}),
    engine,
    transferId,
    receivedAtStart,
    response: response && { ...response, suggestedFilename: suggestedFilename(response) },
  };
}

/** Whether two requests are one: the same URL, method and headers. */
function sameRequest(a: RequestRecord, b: RequestRecord): boolean {
  return (
    a.url === b.url &&
    a.method === b.method &&
    a.headers.length === b.headers.length &&
    a.headers.every(([name, value], i) => b.headers[i]![0] === name && b.headers[i]![1] === value)
  );
}
