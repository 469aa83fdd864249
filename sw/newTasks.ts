import { serializeError } from '../common/errors.js';
import type { SessionSnapshot, TaskInit } from '../common/protocol.js';
import type { TaskRecord } from '../common/schema.js';
import { isAppVisible } from './conditions.js';
import { adoptResumeData } from './resumeData.js';
import { newTaskTiming } from './scheduler/plan.js';
import type { Created } from './scheduler/Scheduler.js';
import { getRateLimiter } from './store/database.js';
import { getSession, storeNew } from './store/tasks.js';

/**
 * Makes new tasks, suspended, for the scheduler to start. Those with resume data are stored
 * now (their parts are in place, and a sweep must see their task); the others are stored once,
 * by the scheduler, as started (measured with 1,000 tasks resumed together: each write of
 * 1,000 tasks took 250-450 ms before the first transfer began). The errors of those that could
 * not be made (resume data that cannot be used) go in `rejected`; identifiers taken, in `taken`.
 */
export async function newTasks(
  sessionId: string,
  inits: TaskInit[],
  rejected: NonNullable<SessionSnapshot['rejected']>,
  sweeping: Promise<void>,
): Promise<Created> {
  const configuration = await getSession(sessionId);
  const visible = await isAppVisible();
  const env = { now: Date.now(), visible, network: { online: true }, engines: [] };
  const limiter = await getRateLimiter();
  const created: Created = { tasks: new Map(), unstored: new Set(), taken: [], configuration, visible };
  const stored: TaskRecord[] = [];
  for (const init of inits) {
    const task = record(sessionId, init, newTaskTiming(configuration, env, limiter, init.earliestBeginDate));
    try {
      if (init.resumeData !== null) await adoptResumeData(task, init.resumeData, sweeping);
    } catch (error) {
      rejected.push([init.taskIdentifier, serializeError(error)]);
      continue;
    }
    if (created.tasks.has(task.taskIdentifier)) {
      created.taken.push(task.taskIdentifier);
      continue;
    }
    if (task.parts > 0) stored.push(task);
    else created.unstored.add(task.taskIdentifier);
    created.tasks.set(task.taskIdentifier, task);
  }
  if (stored.length === 0) return created;
  for (const taken of await storeNew(sessionId, stored)) {
    created.taken.push(taken);
    created.tasks.delete(taken);
  }
  return created;
}

/** A new task's record, suspended. */
function record(sessionId: string, init: TaskInit, timing: Pick<TaskRecord, 'discretionary' | 'earliestBeginDate'>): TaskRecord {
  const { taskIdentifier, request, taskDescription, countOfBytesClientExpectsToReceive, countOfBytesClientExpectsToSend, priority, body } = init;
  return {
    sessionId,
    taskIdentifier,
    kind: body ? 'upload' : 'download',
    body,
    countOfBytesSent: 0,
    countOfBytesExpectedToSend: body ? body.size : 0,
    state: 'suspended',
    taskDescription,
    originalRequest: request,
    response: null,
    error: null,
    countOfBytesReceived: 0,
    countOfBytesExpectedToReceive: -1,
    countOfBytesClientExpectsToReceive,
    countOfBytesClientExpectsToSend,
    ...timing,
    priority,
    resumedAt: 0,
    deadline: null,
    waitingFor: null,
    engine: null,
    transferId: null,
    attempts: 0,
    receivedAtStart: 0,
    parts: 0,
    validator: null,
    startedAt: 0,
    createdAt: Date.now(),
  };
}
