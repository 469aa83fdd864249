/**
 * The scheduler's decisions, as pure functions of the tasks and the environment (visibility,
 * network, time, what runs now): what starts, when, on which engine, grouped how, and what is
 * retried or failed. `Scheduler` reads the store and carries them out; these are unit-tested
 * in Node (`e2e/unit/scheduler.test.ts`).
 */
import { deserializeError, URLError } from '../../common/errors.js';
import type { AskReason, ConfigurationRecord, EngineName, RateLimiterState, TaskRecord } from '../../common/schema.js';
import { notBefore } from '../rateLimiter.js';
import { parseHandOverId } from './handOverId.js';

/** The network as the worker sees it (`navigator.onLine`, `navigator.connection`). */
export interface Network {
  online: boolean;
  saveData?: boolean;
  effectiveType?: string;
  type?: string;
}

/** What the decisions depend on besides the tasks. */
export interface Environment {
  now: number;
  /** Whether a window of the app is visible. */
  visible: boolean;
  /** Whether a window of the app is open (visible or not): one that may answer an ask. */
  open?: boolean;
  network: Network;
  /** The engines this worker has. */
  engines: readonly EngineName[];
}

/**
 * How many times in a row a transfer that vanished (its worker or browser gone) is started
 * again without a byte more: a safety net against a loop, not a retry policy (that is
 * `retryDelayFor`). A stopped worker is an interruption, not a failure.
 */
export const MAX_ATTEMPTS = 50;

/**
 * From how many downloads started together, while a page of the app is visible, the streaming
 * engine carries them rather than Background Fetch. Chromium runs a registration's requests
 * two at a time, after a `HEAD` per file; the streaming engine fetches several at a time and
 * needs no `HEAD`, and the visible page keeps the worker alive meanwhile (bench/README.md).
 */
export const STREAM_BATCH = 8;

/**
 * The largest `countOfBytesClientExpectsToReceive` of a download that counts as small for
 * STREAM_BATCH. A download without that hint may be large: it stays on Background Fetch, which
 * goes on with every page closed.
 */
export const SMALL_DOWNLOAD = 1024 * 1024;

/** How long a transfer just started is taken to be alive, whatever its engine says. */
export const START_GRACE_MS = 3000;

/**
 * How long the pages have to answer an ask about a task's time or restart: then its transfer
 * starts with its request as it is (a page may be open that has not made the session).
 */
export const ASK_TIMEOUT_MS = 10_000;

/** URLSession's defaults: 6 connections per host, 7 days for a resource. */
export const DEFAULT_CONNECTIONS_PER_HOST = 6;
export const DEFAULT_RESOURCE_TIMEOUT_S = 7 * 24 * 60 * 60;

/** Whether a task is a download its app said is small. */
export function isSmall(task: TaskRecord): boolean {
  return task.kind === 'download' && task.countOfBytesClientExpectsToReceive > 0 && task.countOfBytesClientExpectsToReceive <= SMALL_DOWNLOAD;
}

/**
 * Why a task cannot start now, or null if it can. Every task keeps to the configuration's
 * `allowsExpensiveNetworkAccess` and `allowsConstrainedNetworkAccess`; a discretionary task
 * also waits for good conditions: online, no Save-Data, not a 2G-class connection.
 */
export function waitingReason(configuration: ConfigurationRecord | undefined, task: TaskRecord, network: Network): string | null {
  if (configuration?.allowsConstrainedNetworkAccess === false && network.saveData) return 'constrained network (Save-Data)';
  if (configuration?.allowsExpensiveNetworkAccess === false && network.type === 'cellular') return 'expensive network (cellular)';
  if (!task.discretionary) return null;
  if (!network.online) return 'offline';
  if (network.saveData) return 'Save-Data';
  if (network.effectiveType === 'slow-2g' || network.effectiveType === '2g') return `slow connection (${network.effectiveType})`;
  return null;
}

/**
 * How a new task is timed: as Apple's "Downloading files in the background" says, a task
 * resumed while the app is in the background is discretionary and does not begin before the
 * rate limiter's delay expires.
 */
export function newTaskTiming(
  configuration: ConfigurationRecord | undefined,
  env: Environment,
  limiter: RateLimiterState,
  earliestBeginDate: number | null,
): { discretionary: boolean; earliestBeginDate: number | null } {
  const discretionary = (configuration?.isDiscretionary ?? false) || !env.visible;
  const limit = env.visible ? 0 : notBefore(limiter, env.now);
  return { discretionary, earliestBeginDate: limit > env.now ? Math.max(limit, earliestBeginDate ?? 0) : earliestBeginDate };
}

/** When a task resumed now for the first time fails as `timedOut` (`timeoutIntervalForResource`). */
export function deadlineOf(configuration: ConfigurationRecord | undefined, now: number): number {
  return now + (configuration?.timeoutIntervalForResource ?? DEFAULT_RESOURCE_TIMEOUT_S) * 1000;
}

/** The error of a task whose `timeoutIntervalForResource` passed, or null (a suspended one fails when resumed). */
export function resourceTimeout(task: TaskRecord, now: number): URLError | null {
  if (task.state === 'completed' || task.deadline == null || task.deadline > now) return null;
  return new URLError('timedOut', `The download of ${task.originalRequest.url} did not finish within timeoutIntervalForResource`);
}

/**
 * Whether the tasks started together go on the streaming engine because they are many small
 * downloads and the app is in view (see STREAM_BATCH), where the engine asked for is another.
 */
export function streamsTogether(tasks: readonly (TaskRecord | undefined)[], engine: EngineName, env: Environment): boolean {
  if (!env.engines.includes('stream') || engine === 'stream' || !env.visible || tasks.length < STREAM_BATCH) return false;
  return tasks.filter((task) => task && isSmall(task)).length >= STREAM_BATCH;
}

/**
 * Why a start asks the delegate's `willBeginDelayedRequest` first, or null: only where the
 * delegate has it and a page of the app is open to answer, for a task whose `earliestBeginDate`
 * came (its first start), whose transfer was interrupted (`restart`), or made from resume data
 * (its first start has bytes kept: a `restart` too).
 */
export function askReason(task: TaskRecord, configuration: ConfigurationRecord | undefined, env: Environment, restart: boolean): AskReason | null {
  if (!configuration?.willBeginDelayedRequest || !env.open) return null;
  if (restart || (task.startedAt === 0 && task.parts > 0)) return 'restart';
  return task.earliestBeginDate !== null && task.startedAt === 0 ? 'earliestBeginDate' : null;
}

/**
 * How a start stands to the delegate's asks: `restart`, it replaces a transfer that died;
 * `answered`, it follows an answer (it asks nothing); undefined, any other.
 */
export type StartCause = 'restart' | 'answered' | undefined;

/** What to do with a task asked to start. */
export type Decision =
  | { kind: 'skip' }
  | { kind: 'ask'; reason: AskReason }
  | { kind: 'wait'; reason: string }
  | { kind: 'later' }
  | { kind: 'fail'; error: URLError }
  | { kind: 'start'; engine: EngineName; together: boolean };

/**
 * What to do with a task asked to start by the transfer `previous` (null: none), on `engine`
 * unless a rule says otherwise (`streamed`: see `streamsTogether`). A task no longer waiting
 * for `previous` is skipped: another start got there first; so is one whose ask waits for an
 * answer (see `askReason`, `ASK_TIMEOUT_MS`).
 */
export function decide(
  task: TaskRecord | undefined,
  previous: string | null,
  configuration: ConfigurationRecord | undefined,
  engine: EngineName,
  streamed: boolean,
  env: Environment,
  cause?: StartCause,
): Decision {
  if (!task || task.state === 'completed' || task.transferId !== previous) return { kind: 'skip' };
  const timedOut = resourceTimeout(task, env.now);
  if (timedOut) return { kind: 'fail', error: timedOut };
  const reason = waitingReason(configuration, task, env.network);
  if (reason) return { kind: 'wait', reason };
  const attempts = task.countOfBytesReceived > task.receivedAtStart ? 0 : task.attempts;
  if (overSendLimit(task)) {
    const limit = task.countOfBytesClientExpectsToSend;
    const message = `The upload to ${task.originalRequest.url} (${task.body!.size} bytes) is larger than countOfBytesClientExpectsToSend (${limit} bytes)`;
    return { kind: 'fail', error: new URLError('dataLengthExceedsMaximum', message) };
  }
  if (attempts >= MAX_ATTEMPTS) {
    return { kind: 'fail', error: new URLError('networkConnectionLost', `The download of ${task.originalRequest.url} was interrupted ${attempts} times`) };
  }
  if (task.earliestBeginDate !== null && task.earliestBeginDate > env.now) return { kind: 'later' };
  const { ask } = task;
  if (ask?.reason === 'unauthorized' && !ask.answered && !configuration?.willBeginDelayedRequest) {
    // No delegate left to give a new request (the session was made again without one).
    return { kind: 'fail', error: deserializeError(ask.error ?? { name: 'URLError', message: 'The server refused the request' }) as URLError };
  }
  if (cause !== 'answered' && !ask?.answered) {
    // A refused request waits for a new one for as long as it takes; another ask, a while.
    if (ask && (ask.reason === 'unauthorized' || env.now - ask.at < ASK_TIMEOUT_MS)) return { kind: 'skip' };
    const reason = ask ? null : askReason(task, configuration, env, cause === 'restart');
    if (reason) return { kind: 'ask', reason };
  }
  // Bytes kept (after a suspend, resume data, a failed Background Fetch): the streaming engine
  // continues from them. A download started while a page is visible streams too.
  const resumable = task.parts > 0 && Boolean(task.validator);
  const stream = env.engines.includes('stream');
  const chosen: EngineName = stream && (resumable || streamsInView(task, configuration, env) || (streamed && isSmall(task))) ? 'stream' : engine;
  // An upload, or a download with its own size limit, goes alone (a registration has one limit).
  const together = chosen === 'background-fetch' && task.kind === 'download' && task.countOfBytesClientExpectsToReceive === 0;
  return { kind: 'start', engine: chosen, together };
}

/**
 * Whether a download streams because a page of the app is visible: the streaming engine is
 * faster than Background Fetch, exact and pausable, and the page keeps the worker alive
 * (bench/README.md). An upload stays on its engine: it cannot be handed over mid-body.
 */
export function streamsInView(task: TaskRecord, configuration: ConfigurationRecord | undefined, env: Environment): boolean {
  return env.visible && task.kind === 'download' && configuration?.streamsWhileVisible !== false;
}

/**
 * When a Background Fetch that carries a download in ranges is taken back to the streaming
 * engine, now that a page is visible (ms since the epoch; undefined: it is not): its finished
 * ranges are kept, so at most the requests in flight (one part) are fetched again, where the
 * registration may stall 17-30 s in front of the user, and tells a reopened page no progress
 * meanwhile (Chromium's `downloaded` stayed 0 for 5 s of ranges sent whole). One of the whole
 * file is left to run: taking it back would lose what it received. A hand-over's registration
 * (a page started it as it went away) existed before the task was given to it: at once; another
 * once START_GRACE_MS passed since its start (it may not be registered yet).
 */
export function takeBackAt(task: TaskRecord, configuration: ConfigurationRecord | undefined, env: Environment): number | undefined {
  if (!env.engines.includes('stream') || task.state !== 'running' || task.engine !== 'background-fetch') return undefined;
  if (!streamsInView(task, configuration, env) || task.validator === null) return undefined;
  return parseHandOverId(task.transferId) ? task.startedAt : task.startedAt + START_GRACE_MS;
}

/**
 * How long the registrations a hidden page started may all receive nothing before their
 * downloads stream again (see `unstartedHandOver`).
 */
export const UNSTARTED_MS = 10_000;

/**
 * Whether the downloads a page handed over as it was hidden go back to the streaming engine,
 * no registration of the app having received a byte for `waitedMs` (the caller looks at them
 * all: Chromium runs one registration of an origin at a time, and one waiting behind another
 * that receives is not given up). With another tab in front, Chromium created such
 * registrations, said their requests started, and sent none, or never counted their bytes
 * (bench/README.md, "Hiding a page"). Only while a page of the app is open and none visible
 * (a visible one takes them back anyway, see `takeBackAt`; with none open the worker may not
 * live to stream), and online.
 */
export function unstartedHandOver(waitedMs: number, env: Environment): boolean {
  return env.engines.includes('stream') && waitedMs >= UNSTARTED_MS && env.open === true && !env.visible && env.network.online;
}

/** Whether a Background Fetch is taken back to the streaming engine now (see `takeBackAt`). */
export function takesBack(task: TaskRecord, configuration: ConfigurationRecord | undefined, env: Environment): boolean {
  return (takeBackAt(task, configuration, env) ?? Infinity) <= env.now;
}

/** Whether an upload's file is larger than the bound its task set (it then never starts). */
export function overSendLimit(task: TaskRecord): boolean {
  const limit = task.countOfBytesClientExpectsToSend ?? 0;
  return task.body !== null && limit > 0 && task.body.size > limit;
}

/**
 * What a page's or a wake's look at a running task finds: `start` (no transfer, and its time
 * has come), `ask` (its transfer may have died: ask its engine), or `none`.
 */
export function reconcileStep(task: TaskRecord, now: number): 'start' | 'ask' | 'fail' | 'none' {
  if (task.state !== 'running') return 'none';
  if (resourceTimeout(task, now)) return 'fail';
  if (!task.transferId) return (task.earliestBeginDate ?? 0) <= now ? 'start' : 'none';
  // A transfer just handed to its engine may not be registered there yet.
  return now - task.startedAt < START_GRACE_MS ? 'none' : 'ask';
}

/** Tasks in the order they start: higher priority first, then in the order they were resumed. */
export function startOrder<T extends Pick<TaskRecord, 'priority' | 'resumedAt'>>(tasks: readonly T[]): T[] {
  return [...tasks].sort(startsBefore);
}

/** Below 0 if `a` starts before `b` (see `startOrder`). */
export function startsBefore(a: Pick<TaskRecord, 'priority' | 'resumedAt'>, b: Pick<TaskRecord, 'priority' | 'resumedAt'>): number {
  return b.priority - a.priority || (a.resumedAt ?? 0) - (b.resumedAt ?? 0);
}

/**
 * How long to wait before retry number `retry` (1, 2, ...) of a transfer that failed in a way
 * worth another try, or null once `retryLimit` retries were made.
 */
export function retryDelayFor(retry: number, retryLimit: number, delay: (retry: number) => number): number | null {
  return retry > retryLimit ? null : delay(retry);
}
