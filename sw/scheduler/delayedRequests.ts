/**
 * The delegate's `willBeginDelayedRequest`, worker side: a transfer refused for its
 * credentials (`401`, `403`: an expired token or signed URL) waits for a page to give a new
 * request, and a page's answer to any ask starts the transfer, or ends the task. Where and why
 * a start asks is `plan.ts`'s to say (`askReason`).
 */
import { deserializeError, serializeError, URLError } from '../../common/errors.js';
import { owns } from '../../common/lifecycle.js';
import type { DelayedRequestDisposition, FetchOrder } from '../../common/protocol.js';
import type { DelayedRequestAsk, RequestRecord, TaskRecord } from '../../common/schema.js';
import { isUnauthorized } from '../http.js';
import { completeTask, type Outcome } from '../store/outbox.js';
import { getSession, getTask, keepTransactions, moveTask } from '../store/tasks.js';
import type { Scheduler } from './Scheduler.js';

/**
 * Where the session's delegate can give a new request, a transfer refused for its credentials
 * leaves its task waiting for one, with its bytes kept, rather than failed; true if it does.
 */
export async function waitForRequest(task: TaskRecord, outcome: Outcome): Promise<boolean> {
  const error = 'error' in outcome ? (outcome.error as { status?: number }) : undefined;
  if (!isUnauthorized(error?.status) || !(await getSession(task.sessionId))?.willBeginDelayedRequest) return false;
  // Its requests stay with the task, for its metrics.
  if (outcome.transactions?.length) await keepTransactions(task, outcome.transactions);
  const ask: DelayedRequestAsk = { id: crypto.randomUUID(), reason: 'unauthorized', at: Date.now(), error: serializeError(error) };
  const waiting = { state: 'running' as const, engine: null, transferId: null, waitingFor: `a new request (HTTP ${error!.status})`, ask };
  const before = await moveTask(task.sessionId, task.taskIdentifier, waiting, (current) => current.state === 'running' && owns(current, task.transferId));
  return before !== undefined;
}

/**
 * Takes a page's answer to the ask `askId` of a task: `cancel` ends it cancelled;
 * `useNewRequest` starts its transfer with `request`; `continueLoading` with its request as it
 * is, but for a refused one, which ends with the server's refusal (it would be refused again).
 * Returns the Background Fetch orders for the page to start, or null if the ask was answered
 * already (by another page) or is no longer asked.
 */
export async function answer(
  scheduler: Scheduler,
  sessionId: string,
  taskIdentifier: number,
  askId: string,
  disposition: DelayedRequestDisposition,
  request: RequestRecord | undefined,
): Promise<FetchOrder[] | null> {
  const current = await getTask(sessionId, taskIdentifier);
  const { ask } = current ?? {};
  if (current?.state !== 'running' || current.transferId !== null || ask?.id !== askId || ask.answered) return null;
  if (disposition === 'cancel' || (ask.reason === 'unauthorized' && disposition === 'continueLoading')) {
    // Ending: no look may start it meanwhile (`canceling` is never started).
    if (!(await moveTask(sessionId, taskIdentifier, { state: 'canceling' }, (task) => task.ask?.id === askId && task.transferId === null))) return null;
    const refused = disposition === 'continueLoading';
    const error = refused ? deserializeError(ask.error!) : new URLError('cancelled', 'The delegate cancelled the task (willBeginDelayedRequest)');
    await completeTask(sessionId, taskIdentifier, null, { error });
    return [];
  }
  // Answered, the ask stays until the transfer starts: a look meanwhile starts it, asking nothing.
  const newRequest = request && withoutSessionHeaders(request, (await getSession(sessionId))?.httpAdditionalHeaders);
  const answered = { state: 'running' as const, ask: { ...ask, answered: true }, ...(newRequest ? { newRequest } : {}) };
  const unanswered = (task: TaskRecord) => task.transferId === null && task.ask?.id === askId && !task.ask.answered;
  if (!(await moveTask(sessionId, taskIdentifier, answered, unanswered))) return null;
  return (await scheduler.start(sessionId, [[taskIdentifier, null, 'answered']])).orders;
}

/**
 * A new request without the session's additional headers it carries as they are (the delegate
 * was shown the request with them): they stay the session's, and new values of them apply.
 */
function withoutSessionHeaders(request: RequestRecord, session: [string, string][] | undefined): RequestRecord {
  const isSession = ([name, value]: [string, string]) => session?.some(([own, its]) => own.toLowerCase() === name.toLowerCase() && its === value);
  return { ...request, headers: request.headers.filter((header) => !isSession(header)) };
}
