import { expect, test } from '@playwright/test';
import { canMove, owns, TRANSITIONS } from '../../common/lifecycle.js';
import type { AskReason, ConfigurationRecord, TaskRecord } from '../../common/schema.js';
import { NO_DELAY } from '../../sw/rateLimiter.js';
import {
  ASK_TIMEOUT_MS,
  deadlineOf,
  decide,
  MAX_ATTEMPTS,
  newTaskTiming,
  reconcileStep,
  retryDelayFor,
  START_GRACE_MS,
  startOrder,
  STREAM_BATCH,
  streamsTogether,
  takeBackAt,
  takesBack,
  UNSTARTED_MS,
  unstartedHandOver,
  type Environment,
} from '../../sw/scheduler/plan.js';
import { handOverId, parseHandOverId } from '../../sw/scheduler/handOverId.js';
import { handOverPlan, standbyOrders } from '../../sw/scheduler/standby.js';
import { nextConnection, RunQueue, type Slot } from '../../sw/scheduler/RunQueue.js';

const now = 1_000_000;
const env: Environment = { now, visible: true, network: { online: true }, engines: ['stream', 'background-fetch'] };
const config = { identifier: 's', isDiscretionary: false, sessionSendsLaunchEvents: true, retryLimit: 5 } satisfies ConfigurationRecord;

function task(fields: Partial<TaskRecord> = {}): TaskRecord {
  return {
    sessionId: 's',
    taskIdentifier: 1,
    kind: 'download',
    body: null,
    countOfBytesSent: 0,
    countOfBytesExpectedToSend: 0,
    state: 'suspended',
    taskDescription: '',
    originalRequest: { url: 'https://cdn.example/a', method: 'GET', headers: [] },
    response: null,
    error: null,
    countOfBytesReceived: 0,
    countOfBytesExpectedToReceive: -1,
    countOfBytesClientExpectsToReceive: 0,
    earliestBeginDate: null,
    priority: 0.5,
    discretionary: false,
    waitingFor: null,
    engine: null,
    transferId: null,
    attempts: 0,
    receivedAtStart: 0,
    parts: 0,
    validator: null,
    startedAt: 0,
    createdAt: 0,
    ...fields,
  };
}

test('the lifecycle: completed is final, canceling only completes, the fence lets only the owner write', () => {
  expect(TRANSITIONS.completed).toEqual([]);
  expect(canMove('canceling', 'running')).toBe(false);
  expect(canMove('canceling', 'completed')).toBe(true);
  expect(canMove('running', 'running')).toBe(true);
  expect(canMove('suspended', 'running')).toBe(true);
  expect(owns({ state: 'running', transferId: 'a' }, 'a')).toBe(true);
  expect(owns({ state: 'running', transferId: 'b' }, 'a')).toBe(false);
  expect(owns({ state: 'completed', transferId: null }, null)).toBe(false);
  expect(owns(undefined, 'a')).toBe(false);
});

test('priority orders what starts: higher first, equal priority in the order of resume()', () => {
  const tasks = [
    { id: 1, priority: 0.5, resumedAt: 1 },
    { id: 2, priority: 0.5, resumedAt: 2 },
    { id: 3, priority: 1, resumedAt: 3 },
    { id: 4, priority: 0, resumedAt: 0.5 },
    { id: 5, priority: 0.5, resumedAt: 1.5 },
  ];
  expect(startOrder(tasks).map((t) => t.id)).toEqual([3, 1, 5, 2, 4]);
});

test('the per-host cap: a connection opens only to a host with room, by priority', () => {
  const slot = (transferId: string, host: string, priority = 0.5, resumedAt = 0): Slot => ({ transferId, host, perHost: 2, priority, resumedAt });
  const waiting = [slot('a', 'one', 0.5, 1), slot('b', 'two', 0.5, 2), slot('c', 'one', 1, 3)];
  expect(nextConnection(waiting, new Map())).toBe(2); // priority 1 first
  expect(nextConnection(waiting, new Map([['one', 2]]))).toBe(1); // host one is full: two goes
  expect(
    nextConnection(
      waiting,
      new Map([
        ['one', 2],
        ['two', 2],
      ]),
    ),
  ).toBe(-1);
});

test('the run queue never opens more than the per-host cap, and hands turns out by priority', async () => {
  const queue = new RunQueue(3);
  const started: string[] = [];
  const slot = (transferId: string, priority: number, resumedAt: number): Slot => ({ transferId, host: 'h', perHost: 2, priority, resumedAt });
  const turns = ['a', 'b', 'c', 'd', 'e'].map((id, index) => queue.turn(slot(id, id === 'e' ? 1 : 0.5, index)).then((ok) => ok && started.push(id)));
  await Promise.resolve();
  expect(started).toEqual(['a', 'b', 'c']);
  expect(queue.drop('d')).toBe(true);
  queue.release('a');
  await Promise.all([turns[3], turns[4]]);
  expect(started).toEqual(['a', 'b', 'c', 'e']);
  let open = 0;
  let most = 0;
  const connect = async (id: string) => {
    await queue.connect(slot(id, 0.5, 0));
    most = Math.max(most, ++open);
    await new Promise((resolve) => setTimeout(resolve, 5));
    open--;
    queue.disconnect(id, 'h');
  };
  await Promise.all(['a', 'b', 'c', 'e', 'f', 'g'].map(connect));
  expect(most).toBe(2);
  // A cap the browser keeps itself (6 or more) is left to it: eight requests open at once, none
  // counted (their ends do not free another transfer's connection).
  let opened = 0;
  for (let index = 0; index < 8; index++) void queue.connect({ ...slot(`x${index}`, 0.5, 0), perHost: 6 }).then(() => opened++);
  await new Promise((resolve) => setTimeout(resolve, 0));
  expect(opened).toBe(8);
  for (let index = 0; index < 8; index++) queue.disconnect(`x${index}`, 'h');
  await queue.connect(slot('y', 0.5, 0));
  await queue.connect(slot('z', 0.5, 0));
  let third = false;
  void queue.connect(slot('w', 0.5, 0)).then(() => (third = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  expect(third).toBe(false);
});

test('earliestBeginDate: a task waits until its time, then starts', () => {
  const later = task({ earliestBeginDate: now + 1000 });
  expect(decide(later, null, config, 'background-fetch', false, env)).toEqual({ kind: 'later' });
  expect(decide(later, null, config, 'background-fetch', false, { ...env, now: now + 1000 })).toMatchObject({ kind: 'start' });
  expect(reconcileStep({ ...later, state: 'running' }, now)).toBe('none');
  expect(reconcileStep({ ...later, state: 'running' }, now + 1000)).toBe('start');
});

test('conditions: a discretionary task waits for the network; every task keeps to the configuration', () => {
  const discretionary = task({ discretionary: true });
  expect(decide(discretionary, null, config, 'stream', false, { ...env, network: { online: false } })).toEqual({ kind: 'wait', reason: 'offline' });
  expect(decide(discretionary, null, config, 'stream', false, { ...env, network: { online: true, effectiveType: '2g' } })).toMatchObject({ kind: 'wait' });
  expect(decide(task(), null, config, 'stream', false, { ...env, network: { online: false } })).toMatchObject({ kind: 'start' });
  const cellular = { ...env, network: { online: true, type: 'cellular' } };
  expect(decide(task(), null, { ...config, allowsExpensiveNetworkAccess: false }, 'stream', false, cellular)).toMatchObject({ kind: 'wait' });
});

test('retries: a transfer is retried up to the limit, then fails; a transfer that died is restarted up to MAX_ATTEMPTS', () => {
  expect(retryDelayFor(1, 2, () => 100)).toBe(100);
  expect(retryDelayFor(2, 2, () => 100)).toBe(100);
  expect(retryDelayFor(3, 2, () => 100)).toBeNull();
  const died = task({ state: 'running', transferId: 'old', attempts: MAX_ATTEMPTS });
  expect(decide(died, 'old', config, 'stream', false, env)).toMatchObject({ kind: 'fail', error: { code: 'networkConnectionLost' } });
  // A start that brought bytes resets the count.
  expect(decide({ ...died, countOfBytesReceived: 10 }, 'old', config, 'stream', false, env)).toMatchObject({ kind: 'start' });
  // Another start got there first: the task is no longer waiting for `old`.
  expect(decide({ ...died, transferId: 'new' }, 'old', config, 'stream', false, env)).toEqual({ kind: 'skip' });
  expect(reconcileStep({ ...died, startedAt: now - 10 }, now)).toBe('none');
  expect(reconcileStep({ ...died, startedAt: now - START_GRACE_MS }, now)).toBe('ask');
});

test('the rate limiter: a task resumed in the background is discretionary and waits for the delay', () => {
  const limiter = { delay: 60_000, lastWakeAt: now - 10_000 };
  expect(newTaskTiming(config, { ...env, visible: false }, limiter, null)).toEqual({ discretionary: true, earliestBeginDate: now + 50_000 });
  expect(newTaskTiming(config, env, limiter, null)).toEqual({ discretionary: false, earliestBeginDate: null });
  expect(newTaskTiming(config, { ...env, visible: false }, NO_DELAY, now + 5)).toEqual({ discretionary: true, earliestBeginDate: now + 5 });
});

test('engine choice: a download in view streams (unless the session keeps to Background Fetch), bytes kept go on streaming, the rest on Background Fetch', () => {
  const alone = { ...config, streamsWhileVisible: false };
  const hidden = { ...env, visible: false };
  expect(decide(task(), null, config, 'background-fetch', false, env)).toEqual({ kind: 'start', engine: 'stream', together: false });
  expect(decide(task(), null, config, 'background-fetch', false, hidden)).toEqual({ kind: 'start', engine: 'background-fetch', together: true });
  expect(decide(task(), null, alone, 'background-fetch', false, env)).toEqual({ kind: 'start', engine: 'background-fetch', together: true });
  // An upload stays on its engine: it cannot be handed over mid-body.
  expect(decide(task({ kind: 'upload' }), null, config, 'background-fetch', false, env)).toMatchObject({ engine: 'background-fetch', together: false });
  expect(decide(task({ parts: 2, validator: '"v"' }), null, alone, 'background-fetch', false, hidden)).toMatchObject({ engine: 'stream' });
  const small = Array.from({ length: STREAM_BATCH }, () => task({ countOfBytesClientExpectsToReceive: 16 * 1024 }));
  expect(streamsTogether(small, 'background-fetch', env)).toBe(true);
  expect(streamsTogether(small.slice(1), 'background-fetch', env)).toBe(false);
  expect(streamsTogether(small, 'background-fetch', hidden)).toBe(false);
  expect(decide(small[0], null, alone, 'background-fetch', true, env)).toMatchObject({ engine: 'stream', together: false });
  // An upload, or a download with its own limit, goes alone.
  expect(decide(task({ countOfBytesClientExpectsToReceive: 5 }), null, alone, 'background-fetch', false, env)).toMatchObject({ together: false });
  expect(decide(task(), null, config, 'stream', false, { ...env, engines: ['stream'] })).toMatchObject({ engine: 'stream', together: false });
});

test('hand-over: a streamed download goes to Background Fetch after its bytes kept where the server serves ranges; else whole, while that throws away less than half', () => {
  const MiB = 1024 * 1024;
  const response = {
    url: 'https://cdn.example/a',
    status: 200,
    statusText: 'OK',
    headers: JSON.stringify([['accept-ranges', 'bytes']]),
    expectedContentLength: 32 * MiB,
    mimeType: null,
  };
  const streamed = task({
    state: 'running',
    engine: 'stream',
    transferId: 'bgdl:t',
    validator: '"v"',
    response,
    countOfBytesExpectedToReceive: 32 * MiB,
    parts: 3,
    partsBy: ['bgdl:t', 'bgdl:t', 'bgdl:t'],
    countOfBytesReceived: 12 * MiB,
  });
  const plan = handOverPlan(streamed)!;
  expect(plan.point).toEqual({ from: 'bgdl:t', parts: 3, received: 12 * MiB });
  expect(plan.update).toMatchObject({
    engine: 'background-fetch',
    transferId: 'bgdl:t+3+12582912',
    parts: 3,
    countOfBytesReceived: 12 * MiB,
    receivedAtStart: 12 * MiB,
  });
  expect(plan.requests.map(({ headers }) => headers.at(-1)![1])).toEqual([12, 16, 20, 24, 28].map((m) => `bytes=${m * MiB}-${(m + 4) * MiB - 1}`));
  expect(parseHandOverId(handOverId(plan.point))).toEqual(plan.point);
  for (const bad of ['bgdl:t+3', 'other+1+2', 42, null]) expect(parseHandOverId(bad)).toBeUndefined();
  // From a point the page had (its standby order), the bytes stored since are given up.
  expect(handOverPlan({ ...streamed, parts: 4, countOfBytesReceived: 16 * MiB }, plan.point)!.update).toMatchObject({
    parts: 3,
    countOfBytesReceived: 12 * MiB,
  });
  expect(handOverPlan({ ...streamed, parts: 2 }, plan.point)).toBeUndefined();
  // No ranges (CORS may hide Accept-Ranges): the whole file, while the bytes kept are under half of it.
  const whole = { ...streamed, response: { ...response, headers: '[]' } };
  expect(handOverPlan(whole)).toMatchObject({ point: { parts: 0, received: 0 }, update: { validator: null, parts: 0 }, requests: [whole.originalRequest] });
  expect(handOverPlan({ ...whole, countOfBytesReceived: 16 * MiB })).toBeUndefined();
  // Small, or nearly done: it ends before the worker would.
  expect(handOverPlan({ ...streamed, countOfBytesReceived: 31.5 * MiB })).toBeUndefined();
  expect(handOverPlan({ ...streamed, countOfBytesClientExpectsToReceive: MiB })).toBeUndefined();
  expect(handOverPlan({ ...streamed, kind: 'upload' })).toBeUndefined();
  expect(handOverPlan({ ...streamed, engine: 'background-fetch' })).toBeUndefined();
  expect(standbyOrders([streamed], { ...config, streamsWhileVisible: false })).toEqual([]);
  expect(standbyOrders([streamed, task()], config)).toEqual([
    {
      transferId: 'bgdl:t+3+12582912',
      tasks: [{ taskIdentifier: 1, received: 12 * MiB }],
      requests: plan.requests,
      body: null,
      options: { title: 'a', downloadTotal: 20 * MiB },
    },
  ]);
});

test('take back: a Background Fetch in ranges returns to the streaming engine when a page is visible', () => {
  const fetched = task({ state: 'running', engine: 'background-fetch', transferId: 'bgdl:r', validator: '"v"', startedAt: now - START_GRACE_MS });
  expect(takesBack(fetched, config, env)).toBe(true);
  expect(takesBack(fetched, config, { ...env, visible: false })).toBe(false);
  expect(takesBack(fetched, { ...config, streamsWhileVisible: false }, env)).toBe(false);
  // Fetched whole, it would lose what it received.
  expect(takesBack({ ...fetched, validator: null }, config, env)).toBe(false);
  expect(takesBack({ ...fetched, startedAt: now - 10 }, config, env)).toBe(false);
  expect(takesBack(fetched, config, { ...env, engines: ['background-fetch'] })).toBe(false);
  // Just started, it may not be registered yet: taken back once the grace is over.
  expect(takeBackAt({ ...fetched, startedAt: now - 10 }, config, env)).toBe(now - 10 + START_GRACE_MS);
  expect(takeBackAt(fetched, config, { ...env, visible: false })).toBeUndefined();
});

test('a hidden page whose hand-over Background Fetch did not start streams its downloads again, only while a page is open', () => {
  const hidden: Environment = { ...env, visible: false, open: true };
  expect(unstartedHandOver(UNSTARTED_MS, hidden)).toBe(true);
  expect(unstartedHandOver(UNSTARTED_MS - 1, hidden)).toBe(false);
  // A visible page takes it back by the take-back's rule; with no page open the worker may not live to stream it.
  expect(unstartedHandOver(UNSTARTED_MS, { ...hidden, visible: true })).toBe(false);
  expect(unstartedHandOver(UNSTARTED_MS, { ...hidden, open: false })).toBe(false);
  // Offline, a registration waits for the network, as a stream would.
  expect(unstartedHandOver(UNSTARTED_MS, { ...hidden, network: { online: false } })).toBe(false);
  expect(unstartedHandOver(UNSTARTED_MS, { ...hidden, engines: ['background-fetch'] })).toBe(false);
});

test("take back: a hand-over's registration, which existed before the task was given to it, is taken back at once", () => {
  const handedOver = task({ state: 'running', engine: 'background-fetch', transferId: 'bgdl:t+3+12582912', validator: '"v"', startedAt: now - 10 });
  expect(takeBackAt(handedOver, config, env)).toBe(now - 10);
  expect(takesBack(handedOver, config, env)).toBe(true);
  expect(takesBack(handedOver, config, { ...env, visible: false })).toBe(false);
  expect(takesBack({ ...handedOver, validator: null }, config, env)).toBe(false);
});

test('the resource timeout: counted from the first resume, it fails a task not ended, suspended or not restarted', () => {
  expect(deadlineOf(config, now)).toBe(now + 7 * 24 * 3600 * 1000);
  expect(deadlineOf({ ...config, timeoutIntervalForResource: 3 }, now)).toBe(now + 3000);
  const running = task({ state: 'running', transferId: 't', deadline: now - 1 });
  expect(reconcileStep(running, now)).toBe('fail');
  expect(reconcileStep({ ...running, deadline: now + 1 }, now)).not.toBe('fail');
  expect(reconcileStep({ ...running, state: 'suspended' }, now)).toBe('none');
  expect(decide({ ...running, state: 'suspended', transferId: null }, null, config, 'stream', false, env)).toMatchObject({
    kind: 'fail',
    error: { code: 'timedOut' },
  });
});

test("a start asks the delegate's willBeginDelayedRequest only where it has one and a page is open to answer", () => {
  const asking = { ...config, willBeginDelayedRequest: true };
  const open = { ...env, open: true };
  const delayed = task({ earliestBeginDate: now - 1, startedAt: 0 });
  expect(decide(delayed, null, asking, 'stream', false, open)).toEqual({ kind: 'ask', reason: 'earliestBeginDate' });
  expect(decide(delayed, null, config, 'stream', false, open)).toMatchObject({ kind: 'start' });
  expect(decide(delayed, null, asking, 'stream', false, { ...env, visible: false, open: false })).toMatchObject({ kind: 'start' });
  // Its time came once: a later start of the task is not asked about it.
  expect(decide({ ...delayed, startedAt: now - 5000 }, null, asking, 'stream', false, open)).toMatchObject({ kind: 'start' });
  // A transfer that died is restarted after an ask; a start that follows an answer asks nothing.
  const running = task({ state: 'running', transferId: 't1', startedAt: now - 60_000 });
  expect(decide(running, 't1', asking, 'stream', false, open, 'restart')).toEqual({ kind: 'ask', reason: 'restart' });
  expect(decide(delayed, null, asking, 'stream', false, open, 'answered')).toMatchObject({ kind: 'start' });
  // Resume data: a first start with bytes kept.
  expect(decide(task({ parts: 1, validator: '"e"', startedAt: 0 }), null, asking, 'stream', false, open)).toEqual({ kind: 'ask', reason: 'restart' });
});

test('an ask waits for its answer: one about a refused request for as long as it takes, another for ASK_TIMEOUT_MS', () => {
  const asking = { ...config, willBeginDelayedRequest: true };
  const open = { ...env, open: true };
  const asked = (reason: AskReason, at: number) => task({ state: 'running', ask: { id: 'a', reason, at } });
  expect(decide(asked('restart', now - 1000), null, asking, 'stream', false, open)).toEqual({ kind: 'skip' });
  expect(decide(asked('restart', now - ASK_TIMEOUT_MS), null, asking, 'stream', false, open)).toMatchObject({ kind: 'start' });
  expect(decide(asked('unauthorized', now - 3_600_000), null, asking, 'stream', false, open)).toEqual({ kind: 'skip' });
  expect(decide(asked('unauthorized', now - 1000), null, asking, 'stream', false, open, 'answered')).toMatchObject({ kind: 'start' });
  // Answered, an ask lets any look start the transfer.
  const answered = task({ state: 'running', ask: { id: 'a', reason: 'unauthorized', at: now, answered: true } });
  expect(decide(answered, null, asking, 'stream', false, open)).toMatchObject({ kind: 'start' });
  // A refused request with no delegate left to give another ends with the refusal.
  const error = { name: 'URLError', message: 'HTTP 401', code: 'badServerResponse', status: 401 };
  const refused = task({ state: 'running', ask: { id: 'a', reason: 'unauthorized', at: now, error } });
  expect(decide(refused, null, config, 'stream', false, open)).toMatchObject({
    kind: 'fail',
    error: { name: 'URLError', code: 'badServerResponse', status: 401 },
  });
});
