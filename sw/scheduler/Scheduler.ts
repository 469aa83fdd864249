import { URLError } from '../../common/errors.js';
import { newTransferId, owns } from '../../common/lifecycle.js';
import type { FetchOrder } from '../../common/protocol.js';
import type { ConfigurationRecord, EngineName, TaskRecord } from '../../common/schema.js';
import { appWindows, isAppVisible, network } from '../conditions.js';
import type { Engine, TransferSink } from '../engines/Engine.js';
import { retryDelay } from '../http.js';
import { notify } from '../notify.js';
import { withDigest } from '../integrity.js';
import { isQuotaError } from '../quota.js';
import { afterWake } from '../rateLimiter.js';
import { updateRateLimiter } from '../store/database.js';
import { completeTask } from '../store/outbox.js';
import { allTasks, changeTasks, keepTransactions, getSession, getTask, moveTask, readSession, saveTransfer, tasksOfTransfer } from '../store/tasks.js';
import { waitForRequest } from './delayedRequests.js';
import { adopt, takeBackDue } from './handOver.js';
import { place, type Batch } from './place.js';
import { ASK_TIMEOUT_MS, reconcileStep, retryDelayFor, startOrder, type Environment, type StartCause } from './plan.js';
import { hostOf, RunQueue, slotOf } from './RunQueue.js';

/**
 * How many streamed transfers run at a time. More than HTTP/1.1's per-host limit: a transfer
 * spends much of its time storing (its part, its records) after its response ended, and
 * meanwhile another uses the connection (bench/README.md, 1,000 files of 16 KiB).
 */
const TRANSFERS_AT_ONCE = 24;

/** New tasks `resume` made, which no one else knows yet (see `Scheduler.start`). */
export interface Created {
  tasks: Map<number, TaskRecord>;
  /** Those not stored yet: `start` stores them, once, as started. */
  unstored: Set<number>;
  /** Identifiers refused because the session has them already. */
  taken: number[];
  configuration: ConfigurationRecord | undefined;
  visible: boolean;
}

/** A task to start, the transfer it waits for (null: none), and how it stands to asks (see `StartCause`). */
export type StartEntry = [taskIdentifier: number, previous: string | null, cause?: StartCause];

/**
 * The scheduler: it alone decides what starts, when, on which engine and grouped how, using
 * the pure rules of `plan.ts`, and carries the decisions out through the store and the engines.
 */
export class Scheduler {
  readonly queue = new RunQueue(TRANSFERS_AT_ONCE);
  readonly engines: Partial<Record<EngineName, Engine>> = {};
  /** The sink each engine reports to. */
  readonly sink: TransferSink;

  constructor(readonly preferred: EngineName) {
    this.sink = this.#makeSink();
  }

  /** Adds an engine (`install` does, for each one the browser has). */
  add(engine: Engine): void {
    this.engines[engine.name] = engine;
  }

  /** What the decisions depend on now. */
  async environment(visible?: boolean): Promise<Environment> {
    // A visible page is an open one: no need to ask the browser.
    const windows = visible ? { visible, open: true } : await appWindows();
    return { now: Date.now(), visible: visible ?? windows.visible, open: windows.open, network: network(), engines: Object.keys(this.engines) as EngineName[] };
  }

  /**
   * Starts new transfers for tasks, each if it still waits for its `previous` transfer. The
   * downloads an engine can carry together share one transfer; the rest get one each.
   * `created` holds the tasks just made by `resume`: they are stored here, once, as started.
   * Returns the orders for the page, and the tasks as written.
   */
  async start(
    sessionId: string,
    entries: StartEntry[],
    engine: EngineName = this.preferred,
    created?: Created,
  ): Promise<{ orders: FetchOrder[]; written: TaskRecord[] }> {
    const configuration = created ? created.configuration : await getSession(sessionId);
    const batch: Batch = { env: await this.environment(created?.visible), configuration, engine, created, shared: newTransferId(), started: [], failed: [] };
    const ids = entries.map(([id]) => id);
    // Streamed transfers start once their tasks' writes are asked for, not once they committed:
    // storing 1,000 started tasks took 130-290 ms before the first request. Their own writes
    // come after, in later transactions; if this one fails, they are stopped.
    let early: TaskRecord[] = [];
    const launchEarly = () => (early = this.#queueStreamed(batch.started, configuration));
    const written = await changeTasks(
      sessionId,
      ids,
      (records, taken) => place(batch, entries, records, taken),
      created?.tasks,
      (created?.unstored.size ?? 0) > 0,
      launchEarly,
    ).catch(async (error: unknown) => {
      await Promise.all(early.map((task) => this.#stopEarly(task)));
      throw error;
    });
    for (const [task, error] of batch.failed) await completeTask(sessionId, task.taskIdentifier, task.transferId, { error });
    // Unanswered, an ask about a task's time or restart lets it start after a while: the pages
    // look again then (only a page may start a Background Fetch), as does a streaming worker.
    if (batch.asked)
      setTimeout(() => (this.preferred === 'stream' ? void this.#look(sessionId) : notify({ type: 'changed', sessionId })), ASK_TIMEOUT_MS + 100);
    // The streamed ones were queued once their write was asked for (`#queueStreamed`).
    const others = batch.started.filter((task) => task.engine !== 'stream');
    return { orders: await this.#launch(startOrder(others), batch.shared, configuration), written };
  }

  /** Queues the started tasks the streaming engine runs alone, in start order; returns them. */
  #queueStreamed(started: TaskRecord[], configuration: ConfigurationRecord | undefined): TaskRecord[] {
    const streamed = startOrder(started.filter((task) => task.engine === 'stream'));
    for (const task of streamed) this.#queue(task, configuration);
    return streamed;
  }

  /** Stops a transfer started before its task's write, which failed: the task was not stored so. */
  async #stopEarly(task: TaskRecord): Promise<void> {
    if (!this.queue.drop(task.transferId!)) await this.engines.stream?.cancel(task).catch(() => undefined);
  }

  /**
   * Hands the started tasks of engines that answer with an order for the page (Background
   * Fetch) to them, together where they share a transfer.
   */
  async #launch(started: TaskRecord[], shared: string, configuration: ConfigurationRecord | undefined): Promise<FetchOrder[]> {
    const together = started.filter((task) => task.transferId === shared);
    const transfers = together.length > 0 ? [together] : [];
    for (const task of started) if (task.transferId !== shared) transfers.push([task]);
    const orders: FetchOrder[] = [];
    for (const tasks of transfers) {
      const engine = this.engines[tasks[0]!.engine!]!;
      try {
        const order = await engine.start(tasks, configuration);
        if (order) orders.push(order);
      } catch (cause) {
        for (const task of tasks) await this.failToStart(task.sessionId, task.taskIdentifier, task.transferId!, cause, task.originalRequest.url);
      }
    }
    return orders;
  }

  /** A streamed transfer waits for its turn in the run queue, then runs. */
  #queue(task: TaskRecord, configuration: ConfigurationRecord | undefined): void {
    const slot = slotOf(task, configuration);
    void this.queue.turn(slot).then(async (ok) => {
      if (!ok) return;
      try {
        await this.engines.stream!.start([task], configuration);
      } catch (cause) {
        this.queue.release(slot.transferId);
        await this.failToStart(task.sessionId, task.taskIdentifier, task.transferId!, cause, task.originalRequest.url);
      }
    });
  }

  /** Ends a task whose transfer could not start. */
  async failToStart(sessionId: string, taskIdentifier: number, transferId: string, cause: unknown, url: string): Promise<void> {
    const { name, message } = cause as { name?: unknown; message?: unknown };
    const code = isQuotaError(cause) ? 'cannotWriteToFile' : 'unknown';
    const error = new URLError(code, `The download of ${url} could not start: ${String(name)}: ${String(message)}`);
    await completeTask(sessionId, taskIdentifier, transferId, { error });
  }

  /** Whether a task's transfer is under way: queued, or alive in its engine. */
  async isAlive(task: TaskRecord): Promise<boolean> {
    if (task.transferId && this.queue.has(task.transferId)) return true;
    const engine = task.engine ? this.engines[task.engine] : undefined;
    return engine !== undefined && (await engine.isAlive(task));
  }

  /**
   * Starts again, together, every running task of the session (`tasks`, as read) whose
   * transfer is gone or whose time has come, and fails those past their resource timeout.
   * Returns the orders, or undefined if there was nothing to start.
   */
  async reconcile(sessionId: string, tasks: TaskRecord[], engine: EngineName = this.preferred): Promise<FetchOrder[] | undefined> {
    tasks = await takeBackDue(this, sessionId, tasks);
    const entries: StartEntry[] = [];
    // Tasks resumed together share a transfer: each transfer is asked about once.
    const alive = new Map<string, Promise<boolean>>();
    const now = Date.now();
    for (const task of tasks) {
      const step = reconcileStep(task, now);
      if (step === 'fail') await this.expire(task);
      else if (step === 'start') entries.push([task.taskIdentifier, null]);
      else if (step === 'ask') {
        if (!alive.has(task.transferId!)) alive.set(task.transferId!, this.isAlive(task));
        if (!(await alive.get(task.transferId!))) entries.push([task.taskIdentifier, task.transferId, 'restart']);
      }
    }
    this.#armDeadline(tasks);
    return entries.length > 0 ? (await this.start(sessionId, entries, engine)).orders : undefined;
  }

  /** Ends a task whose `timeoutIntervalForResource` passed, and stops its transfer. */
  async expire(task: TaskRecord): Promise<void> {
    const error = new URLError('timedOut', `The download of ${task.originalRequest.url} did not finish within timeoutIntervalForResource`);
    if (!(await completeTask(task.sessionId, task.taskIdentifier, task.transferId, { error }))) return;
    if (task.transferId) this.queue.drop(task.transferId);
    const engine = task.engine && task.transferId ? this.engines[task.engine] : undefined;
    await engine?.cancel(task).catch(() => undefined);
  }

  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #nextDeadline = Infinity;

  /** While the worker lives, looks again at a session when its next resource deadline comes. */
  #armDeadline(tasks: TaskRecord[]): void {
    const next = Math.min(...tasks.filter((task) => task.state === 'running' && task.deadline != null).map((task) => task.deadline!));
    if (!Number.isFinite(next) || next >= this.#nextDeadline || next - Date.now() > 2 ** 31 - 1) return;
    clearTimeout(this.#deadlineTimer);
    this.#nextDeadline = next;
    const sessionId = tasks[0]!.sessionId;
    this.#deadlineTimer = setTimeout(
      () => {
        this.#nextDeadline = Infinity;
        void this.#look(sessionId, tasks);
      },
      Math.max(0, next - Date.now()),
    );
  }

  /** Looks again at a session's tasks (`tasks`, else all), as a page's look would. */
  async #look(sessionId: string, tasks?: TaskRecord[]): Promise<void> {
    const current = tasks ? await Promise.all(tasks.map((task) => getTask(sessionId, task.taskIdentifier))) : (await readSession(sessionId)).tasks;
    const orders = await this.reconcile(
      sessionId,
      current.flatMap((task) => (task ? [task] : [])),
      this.preferred,
    ).catch(() => undefined);
    // Only a page can start a Background Fetch: the pages look again, and carry out the orders
    // of the transfers they find without a registration.
    if (orders?.length) notify({ type: 'changed', sessionId });
  }

  /**
   * The worker was woken with no page to ask (Background Sync): starts again the streaming
   * transfers that died with the last worker, and, where the streaming engine is the only one,
   * the tasks whose time or conditions have come. Background Fetch orders wait for a page.
   */
  async wake(): Promise<void> {
    if (!this.engines.stream) return;
    const bySession = new Map<string, TaskRecord[]>();
    for (const task of await allTasks()) {
      if (this.preferred !== 'stream' && task.engine !== 'stream') continue;
      if (!bySession.has(task.sessionId)) bySession.set(task.sessionId, []);
      bySession.get(task.sessionId)!.push(task);
    }
    for (const [sessionId, tasks] of bySession) await this.reconcile(sessionId, tasks, 'stream');
  }

  /**
   * Stops a task's transfer, keeping its stored parts (and what the engine can keep of the
   * bytes in flight), and leaves it in `state` with no transfer. Returns the task as stopped,
   * or undefined if it was not running or suspended.
   */
  async stop(task: TaskRecord, state: 'suspended' | 'canceling'): Promise<TaskRecord | undefined> {
    // First the engine keeps what it received, while the task is still its own to record it in.
    const running = await getTask(task.sessionId, task.taskIdentifier);
    if (running?.state === 'running' && running.transferId && !this.queue.drop(running.transferId)) {
      await (running.engine ? this.engines[running.engine] : undefined)?.suspend?.(running);
    }
    const before = await moveTask(
      task.sessionId,
      task.taskIdentifier,
      // A suspended task asks nothing: its resume starts it (and may ask again).
      { state, engine: null, transferId: null, ask: null, waitingFor: null },
      (current) => current.state === 'running' || current.state === 'suspended',
    );
    if (!before) return undefined;
    // The transfer's own end is ignored now that the task no longer waits for it.
    const engine = before.engine && before.transferId ? this.engines[before.engine] : undefined;
    await engine?.cancel(before);
    return { ...before, state, engine: null, transferId: null };
  }

  /** Cancels a task: it ends with a `cancelled` URLError once its transfer has stopped. */
  async cancel(task: TaskRecord): Promise<void> {
    const engine = task.engine && task.transferId ? this.engines[task.engine] : undefined;
    if (!engine || (task.transferId && this.queue.drop(task.transferId))) {
      await completeTask(task.sessionId, task.taskIdentifier, task.transferId, { error: cancelled() });
      return;
    }
    const before = await moveTask(
      task.sessionId,
      task.taskIdentifier,
      { state: 'canceling' },
      (current) => current.state === 'running' && owns(current, task.transferId),
    );
    if (before) await engine.cancel({ ...before, state: 'canceling' });
  }

  /** Ends the tasks of a transfer that a page could not start. */
  async failTransfer(sessionId: string, transferId: string, error: unknown): Promise<void> {
    for (const task of await tasksOfTransfer(transferId)) {
      if (task.sessionId === sessionId) await this.failToStart(sessionId, task.taskIdentifier, transferId, error, task.originalRequest.url);
    }
  }

  #makeSink(): TransferSink {
    return {
      // A streamed part stored changes the page's standby order (see `standbyOrders`), and
      // with no page in view, a registration may wait for the worker to adopt it.
      save: async (task, changes) => {
        const standby = task.engine === 'stream' && changes.parts !== undefined && this.engines['background-fetch'] !== undefined;
        const saved = await saveTransfer(task, changes, standby && 'standby');
        if (standby) void adopt(this).catch(() => undefined);
        return saved;
      },
      // A request refused for its credentials may wait for a new one instead.
      complete: async (task, outcome) =>
        (await waitForRequest(task, outcome)) || completeTask(task.sessionId, task.taskIdentifier, task.transferId, await withDigest(task, outcome)),
      // What an engine could not finish starts again on another: a restart, which may ask the delegate.
      handOver: async (task, to) => void (await this.start(task.sessionId, [[task.taskIdentifier, task.transferId, 'restart']], to)),
      retryDelay: (configuration, retry, retryAfter) => retryDelayFor(retry, configuration?.retryLimit ?? 5, (n) => retryDelay(n, retryAfter)),
      connect: (task, configuration) => this.queue.connect(slotOf(task, configuration)),
      disconnect: (task) => this.queue.disconnect(task.transferId!, hostOf(task)),
      release: (task) => this.queue.release(task.transferId!),
      read: (task) => getTask(task.sessionId, task.taskIdentifier),
      keepTransactions: async (task, transactions) => void (transactions.length > 0 && (await keepTransactions(task, transactions))),
      tasksOf: tasksOfTransfer,
      configuration: getSession,
      woke: async () => {
        if (!(await isAppVisible())) await updateRateLimiter((state) => afterWake(state, Date.now()));
      },
    };
  }
}

function cancelled(): URLError {
  return new URLError('cancelled', 'The download was cancelled');
}
