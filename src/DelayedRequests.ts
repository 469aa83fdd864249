import type { DelayedRequestDisposition, TaskView } from '../common/protocol.js';
import { badValue } from '../common/quote.js';
import type { DelayedRequestAsk, RequestRecord } from '../common/schema.js';
import { carryOut } from './fetchOrders.js';
import { callWorker } from './callWorker.js';
import { checkRequestFields } from './requestFields.js';
import type { SessionState } from './SessionState.js';

/** What `willBeginDelayedRequest` answers, as URLSession's `DelayedRequestDisposition` and its request. */
export interface DelayedRequestAnswer {
  disposition: DelayedRequestDisposition;
  /** With `useNewRequest`: the request to send instead (a `Request`, or a URL with the same headers). */
  request?: Request | string | URL;
}

/**
 * Asks the delegate's `willBeginDelayedRequest` about each task whose transfer waits for it,
 * once per ask in this page, and gives the worker the answer (the first page's is taken).
 */
export function askDelegate(s: SessionState, records: TaskView[]): void {
  if (typeof s.session.delegate.willBeginDelayedRequest !== 'function') return;
  for (const { taskIdentifier, ask, state } of records) {
    if (!ask || ask.answered || state !== 'running' || s.asked.has(ask.id)) continue;
    s.asked.add(ask.id);
    void askOne(s, taskIdentifier, ask);
  }
}

async function askOne(s: SessionState, taskIdentifier: number, ask: DelayedRequestAsk): Promise<void> {
  const task = s.tasks.get(taskIdentifier);
  if (!task) return;
  let answer: [DelayedRequestDisposition, RequestRecord?];
  try {
    const current = task.currentRequest;
    answer = recordOf(await s.session.delegate.willBeginDelayedRequest!(s.session, task, current), current);
  } catch (error) {
    // What the hook throws (or a bad answer) is reported: a refused transfer waits on (the next
    // page asks again), another goes on as it is.
    reportError(error);
    if (ask.reason === 'unauthorized') return;
    answer = ['continueLoading'];
  }
  try {
    const orders = await callWorker('answer', s.id, taskIdentifier, ask.id, ...answer);
    if (orders) await carryOut(s, orders);
    // Too late (the transfer went on without it): a cancel still cancels.
    else if (answer[0] === 'cancel') task.cancel();
  } catch (error) {
    reportError(error); // a request the worker refused (another method): the ask waits on
  }
}

/** An answer as the worker takes it; a bad one throws a TypeError quoting it. */
function recordOf(answer: unknown, current: Request): [DelayedRequestDisposition, RequestRecord?] {
  const { disposition, request } = (answer ?? {}) as Partial<DelayedRequestAnswer>;
  if (disposition === 'continueLoading' || disposition === 'cancel') return [disposition];
  const given = request instanceof Request || typeof request === 'string' || request instanceof URL;
  if (disposition !== 'useNewRequest' || !given) {
    throw badValue("willBeginDelayedRequest must answer { disposition: 'continueLoading' | 'cancel' } or { disposition: 'useNewRequest', request }", answer);
  }
  // A URL alone keeps the current request's method and headers.
  const next = request instanceof Request ? request : new Request(request, current);
  if (!/^https?:/.test(next.url)) throw badValue('Only http: and https: URLs can be used', next.url);
  checkRequestFields(next);
  return ['useNewRequest', { url: next.url, method: next.method, headers: [...next.headers], ...(next.integrity ? { integrity: next.integrity } : {}) }];
}
