import type { FetchOrder, SessionSnapshot } from '../common/protocol.js';
import { isAppVisible } from './conditions.js';
import { NO_DELAY } from './rateLimiter.js';
import type { TaskRecord } from '../common/schema.js';
import { handOverPlan, standbyOrders } from './scheduler/standby.js';
import type { Scheduler } from './scheduler/Scheduler.js';
import { changedSince, stampNow } from './store/changes.js';
import { getRateLimiter, updateRateLimiter } from './store/database.js';
import { handOut } from './store/handedOut.js';
import { deleteParts } from './store/parts.js';
import { takeReadAhead } from './store/readAhead.js';
import { getSession, readSession, readTasks } from './store/tasks.js';
import { taskView } from './taskView.js';

/**
 * How often, at most, a page's drain reads every task of its session to find transfers that
 * died (or are due): the other drains read only the tasks changed since the page's last one.
 */
const RECONCILE_MS = 1000;

/**
 * Of the time between two such reads, at most the share the read itself may take: a read of
 * 1,000 tasks took 140-250 ms, and held up the completions' writes meanwhile.
 */
const RECONCILE_SHARE = 0.1;

/**
 * What pages get of a session: its tasks (all, or those changed since their last look) and
 * undelivered events. Each look is also the scheduler's chance to start what died or is due.
 */
export class Snapshots {
  /** When each session's tasks may next be all read for dead transfers (ms since the epoch). */
  readonly #reconcileAt = new Map<string, number>();
  /** The sweep under way, if any: resume data waits for it before it puts its parts back. */
  sweeping: Promise<void> = Promise.resolve();

  constructor(private readonly scheduler: Scheduler) {}

  /** A session's snapshot; a visible page resets the rate limiter's delay meanwhile. */
  async take(id: string, since: unknown): Promise<SessionSnapshot> {
    const reset = (async () => {
      if ((await getRateLimiter()).delay > 0 && (await isAppVisible())) await updateRateLimiter(() => NO_DELAY);
    })();
    const [snapshot] = await Promise.all([this.#read(id, since), reset]);
    // Recorded before the page gets the events: it may acknowledge them as soon as it does
    // (most reads have recorded it already, and this finds nothing to write).
    await handOut(id, snapshot.events);
    return snapshot;
  }

  async #read(id: string, since: unknown): Promise<SessionSnapshot> {
    const stamp = stampNow();
    let orders: FetchOrder[] = [];
    // Every task is read to find dead transfers, at most every RECONCILE_MS for a page that
    // has the tasks already (it then gets only those changed since its stamp).
    const full = changedSince(id, since) === undefined;
    if (full || Date.now() >= (this.#reconcileAt.get(id) ?? 0)) {
      const began = Date.now();
      // A page that re-creates its session may find it read ahead (`readAhead`).
      const ahead = full ? await takeReadAhead(id) : undefined;
      const state = ahead ?? (await readSession(id));
      this.#reconcileAt.set(id, Date.now() + Math.max(RECONCILE_MS, (Date.now() - began) / RECONCILE_SHARE));
      orders = (await this.scheduler.reconcile(id, state.tasks)) ?? [];
      if (ahead && orders.length === 0) return { tasks: ahead.views, events: ahead.events, orders, stamp, standby: await this.#standby(id, ahead.tasks) };
      // Read again only if something was started: the records changed.
      if (full) {
        const { tasks, events } = orders.length > 0 ? await readSession(id) : state;
        return { tasks: tasks.map(taskView), events, orders, stamp, standby: await this.#standby(id, tasks) };
      }
    }
    const changed = changedSince(id, since)!;
    // A hand-out that finds no room fails the read: then it is read again and handed out apart.
    const { tasks, gone, events } = await readTasks(id, changed, true).catch(() => readTasks(id, changed, false));
    return { tasks: tasks.map(taskView), gone, events, orders, stamp, standby: await this.#standby(id, tasks) };
  }

  /** Where Background Fetch may carry them on: the orders for the streamed downloads of `tasks` (see `standbyOrders`). */
  async #standby(id: string, tasks: TaskRecord[]): Promise<FetchOrder[] | undefined> {
    if (!this.scheduler.engines['background-fetch']) return undefined;
    // Most streamed downloads stream on (a small one ends first): the session is read, behind
    // the worker's other reads, only when one would be handed over.
    const carried = tasks.filter((task) => handOverPlan(task) !== undefined);
    return carried.length > 0 ? standbyOrders(carried, await getSession(id)) : undefined;
  }

  /**
   * Deletes, in the background, temporary files of tasks that no longer need them (a page
   * closed mid-cleanup). The files are listed before the records are read: a file's task was
   * stored before the file, so a file whose task is neither running nor waiting to be
   * delivered then is left over. Not awaited: listing every stored file held up `attach`.
   */
  sweep(sessionId: string): void {
    this.sweeping = this.sweeping
      .then(() =>
        deleteParts(sessionId, undefined, async () => {
          const { tasks, events } = await readSession(sessionId);
          const keep = new Set<number>();
          for (const task of tasks) if (task.state !== 'completed') keep.add(task.taskIdentifier);
          for (const event of events) keep.add(event.taskIdentifier);
          return keep;
        }),
      )
      .catch(() => undefined);
  }
}
