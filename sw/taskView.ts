import type { TaskView } from '../common/protocol.js';
import type { TaskRecord } from '../common/schema.js';
import { suggestedFilename } from './responseRecord.js';

/**
 * What a page gets of a task (see `TaskView`): the page re-attaches many tasks at once, and
 * the structured clone of the whole records (each header a pair) was much of that time.
 */
export function taskView(task: TaskRecord): TaskView {
  const { taskIdentifier, kind, state, taskDescription, originalRequest, countOfBytesSent, countOfBytesExpectedToSend, countOfBytesReceived } = task;
  const { countOfBytesExpectedToReceive, countOfBytesClientExpectsToReceive, countOfBytesClientExpectsToSend, earliestBeginDate, priority } = task;
  const { waitingFor, engine, transferId, receivedAtStart, response, currentRequest, ask } = task;
  return {
    taskIdentifier,
    kind,
    state,
    taskDescription,
    originalRequest,
    ...(currentRequest ? { currentRequest } : {}),
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
    response: response && { ...response, headers: headerObject(response.headers), suggestedFilename: suggestedFilename(response) },
  };
}

/**
 * Header pairs as one object. A response's headers come from iterating `Headers` (each name
 * once); pairs that repeat a name (resume data made elsewhere) are joined as `Headers` joins them.
 */
function headerObject(pairs: [string, string][]): Record<string, string> {
  const object = Object.fromEntries(pairs) as Record<string, string>;
  return Object.keys(object).length === pairs.length ? object : Object.fromEntries(new Headers(pairs));
}
