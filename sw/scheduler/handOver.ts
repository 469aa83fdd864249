/**
 * The hand-over between engines in a browser with Background Fetch. A download streams while a
 * page of the app is visible; each snapshot gives that page a Background Fetch order for the
 * rest of each streamed download (`standbyOrders`), which it starts the moment it goes away
 * (only a page may start one, and a page going away may not wait for the worker). The worker
 * then stops the stream and gives the task to the registration (`handOver`), and takes it back
 * if Background Fetch does not start it while a page is still open (`watchStart`). When a page
 * is visible again, `Scheduler.reconcile` takes ranged registrations back (`takeBackDue`).
 */
import type { TaskRecord } from '../../common/schema.js';
import { temporaryKey } from '../../common/cacheKeys.js';
import { isAppVisible } from '../conditions.js';
import { deleteKeys } from '../store/parts.js';
import { getSession, moveTask, readSession, tasksOfTransfer } from '../store/tasks.js';
import type { Scheduler } from './Scheduler.js';
import { handOverId, parseHandOverId } from './handOverId.js';
import { takeBackAt, takesBack, UNSTARTED_MS, unstartedHandOver } from './plan.js';
import { handOverPlan } from './standby.js';

declare const self: ServiceWorkerGlobalScope;

/** How long the worker waits for the registration a page started as it went away. */
const APPEAR_MS = 10_000;

/** How long another page must stay visible for a hand-over to be called off. */
const VISIBLE_MS = 2000;

/** How often the worker looks whether a hand-over's registrations receive (see `watchStart`). */
const WATCH_MS = 1000;

/** How often, at most, a worker streaming with no page in view looks for registrations to adopt. */
const ADOPT_MS = 1000;

/** Registrations being handed over now: a page's call and an adoption may meet on one. */
const underWay = new Set<string>();

/** When the worker last looked for registrations to adopt. */
let looked = 0;

/**
 * A page went away having started the registrations `ids` (from its standby orders): with no
 * page of the app visible, each streamed task goes to its registration; else (another page is
 * in view) the registration is aborted and the download streams on. A registration that does
 * not appear leaves its download streaming (the page did not get to start it).
 */
export async function handOver(scheduler: Scheduler, sessionId: string, ids: string[], caller?: string): Promise<void> {
  const manager = self.registration.backgroundFetch;
  if (!manager || !scheduler.engines.stream) return;
  const given: string[] = [];
  for (const id of ids.filter((each) => !underWay.has(each))) {
    underWay.add(id);
    if (await handOverOne(scheduler, sessionId, manager, id, caller).finally(() => underWay.delete(id))) given.push(id);
  }
  if (given.length > 0) await watchStart(scheduler, manager, given);
}

/** Hands a streamed download over to the registration `id` (true), or aborts the registration. */
async function handOverOne(scheduler: Scheduler, sessionId: string, manager: BackgroundFetchManager, id: string, caller?: string): Promise<boolean> {
  const point = parseHandOverId(id);
  const registration = point && (await appeared(manager, id));
  // (A page may tell twice, as it is hidden and then closed: the first told is done.)
  if (!registration || (await tasksOfTransfer(id)).length > 0) return false;
  const [task] = (await tasksOfTransfer(point.from)).filter((each) => each.sessionId === sessionId);
  const plan = task && !(await stillVisible(caller)) ? handOverPlan(task, point) : undefined;
  if (plan && handOverId(plan.point) === id && (await giveTo(scheduler, task!, plan))) return true;
  await registration.abort().catch(() => false);
  return false;
}

/**
 * Watches the registrations `ids` just given their downloads, until one of the app's receives
 * or UNSTARTED_MS pass; if Background Fetch did not start them meanwhile, and a page of the
 * app is open but hidden, their downloads stream again (see `unstartedHandOver`).
 */
async function watchStart(scheduler: Scheduler, manager: BackgroundFetchManager, ids: string[]): Promise<void> {
  const since = Date.now();
  for (let waited = 0; waited < UNSTARTED_MS; waited = Date.now() - since) {
    await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
    const all = await Promise.all((await manager.getIds()).map((id) => manager.get(id)));
    const running = all.filter((each): each is BackgroundFetchRegistration => each?.result === '');
    if (running.some((each) => each.downloaded > 0) || !running.some((each) => ids.includes(each.id))) return;
  }
  if (!unstartedHandOver(Date.now() - since, await scheduler.environment())) return;
  for (const id of ids) for (const task of await tasksOfTransfer(id)) if (task.state === 'running') await takeBack(scheduler, task);
}

/**
 * A page going away may start its registration and still fail to tell the worker (its message
 * lost with it): while a stream stores parts with no page of the app in view, the worker looks
 * (at most every ADOPT_MS) for registrations named after its streams, and hands over to them.
 */
export async function adopt(scheduler: Scheduler): Promise<void> {
  const manager = self.registration.backgroundFetch;
  if (!manager || Date.now() - looked < ADOPT_MS) return;
  looked = Date.now();
  if (await isAppVisible()) return;
  for (const id of await manager.getIds()) {
    const point = parseHandOverId(id);
    const [task] = point ? await tasksOfTransfer(point.from) : [];
    if (task) await handOver(scheduler, task.sessionId, [id]);
  }
}

/**
 * Whether a page of the app other than the one that went away (`caller`) stays visible for
 * VISIBLE_MS: that one may still be listed as visible for a while (seen in Chromium under
 * load), and others may be going away with it (a window minimised).
 */
async function stillVisible(caller?: string): Promise<boolean> {
  for (const end = Date.now() + VISIBLE_MS; ; await new Promise((resolve) => setTimeout(resolve, 200))) {
    if (!(await isAppVisible(caller))) return false;
    if (Date.now() > end) return true;
  }
}

/** The registration `id`, once it exists (within APPEAR_MS), else undefined. */
async function appeared(manager: BackgroundFetchManager, id: string): Promise<BackgroundFetchRegistration | undefined> {
  for (const end = Date.now() + APPEAR_MS; ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const registration = await manager.get(id);
    if (registration || Date.now() > end) return registration;
  }
}

/**
 * Stops a task's stream at the bytes it stored and gives the task to the registration of its
 * plan; the parts it stored past the registration's start go. False if the task moved on.
 */
async function giveTo(scheduler: Scheduler, task: TaskRecord, plan: NonNullable<ReturnType<typeof handOverPlan>>): Promise<boolean> {
  const { sessionId, taskIdentifier, transferId } = task;
  if (!scheduler.queue.drop(transferId!)) await scheduler.engines.stream?.suspend?.(task);
  const changes = { ...plan.update, state: 'running' as const, startedAt: Date.now(), waitingFor: null, attempts: 0 };
  const before = await moveTask(sessionId, taskIdentifier, changes, (current) => current.state === 'running' && current.transferId === transferId);
  if (!before) return false;
  const past = Array.from({ length: Math.max(0, before.parts - plan.point.parts) }, (_, index) => plan.point.parts + index);
  await deleteKeys(past.map((part) => temporaryKey(sessionId, taskIdentifier, part, before.partsBy?.[part] ?? ''))).catch(() => undefined);
  return true;
}

/** By session, the look armed for the take-back due next (see `takeBackDue`). */
const looks = new Map<string, ReturnType<typeof setTimeout>>();

/**
 * Takes back to the streaming engine the session's downloads whose time for it came (of
 * `tasks`, as read; see `takeBackAt`), and returns the others. For one whose time is still to
 * come, the worker looks again then (a visible page keeps it alive till then).
 */
export async function takeBackDue(scheduler: Scheduler, sessionId: string, tasks: TaskRecord[]): Promise<TaskRecord[]> {
  if (!scheduler.engines.stream || !tasks.some((task) => task.engine === 'background-fetch' && task.state === 'running')) return tasks;
  const [env, configuration] = await Promise.all([scheduler.environment(), getSession(sessionId)]);
  const back = new Set(tasks.filter((task) => takesBack(task, configuration, env)));
  for (const task of back) await takeBack(scheduler, task);
  const next = Math.min(...tasks.map((task) => takeBackAt(task, configuration, env) ?? Infinity).filter((at) => at > env.now));
  if (Number.isFinite(next) && !looks.has(sessionId)) {
    const look = async () => void (await takeBackDue(scheduler, sessionId, (await readSession(sessionId)).tasks));
    looks.set(
      sessionId,
      setTimeout(() => (looks.delete(sessionId), look().catch(() => undefined)), next - env.now),
    );
  }
  return tasks.filter((task) => !back.has(task));
}

/**
 * Takes a download back from its Background Fetch to the streaming engine (see `takeBackAt`):
 * the ranges that came whole are stored, the stream goes on after them, then the registration
 * is aborted (its end no longer concerns the task).
 */
export async function takeBack(scheduler: Scheduler, task: TaskRecord): Promise<void> {
  const engine = scheduler.engines['background-fetch'];
  await engine?.suspend?.(task);
  const { written } = await scheduler.start(task.sessionId, [[task.taskIdentifier, task.transferId]], 'stream');
  if (written.some((each) => each.taskIdentifier === task.taskIdentifier && each.transferId !== task.transferId)) await engine?.cancel(task);
}
