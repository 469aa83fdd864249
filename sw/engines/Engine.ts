import type { FetchOrder } from '../../common/protocol.js';
import type { ConfigurationRecord, EngineName, TaskRecord, TransactionRecord } from '../../common/schema.js';
import type { Outcome } from '../store/outbox.js';

/**
 * What an engine reports to, and asks of, the rest of the worker. Every write goes through the
 * fence: a transfer that no longer owns its task records nothing and ends nothing.
 */
export interface TransferSink {
  /** Keeps in the task the requests of a transfer that stops without ending it (for its metrics). */
  keepTransactions(task: TaskRecord, transactions: TransactionRecord[]): Promise<void>;
  /** Records a transfer's progress in its task; false if the transfer no longer owns it. */
  save(task: TaskRecord, changes: Partial<TaskRecord>): Promise<boolean>;
  /** Ends the task with how its transfer ended; false if the transfer no longer owns it. */
  complete(task: TaskRecord, outcome: Outcome): Promise<boolean>;
  /** Gives a task's transfer to another engine, to finish what this one could not. */
  handOver(task: TaskRecord, to: EngineName): Promise<void>;
  /** How long to wait before retry `retry` (1, 2, ...), or null to give up (the session's `retryLimit`). */
  retryDelay(configuration: ConfigurationRecord | undefined, retry: number, retryAfter: string | null): number | null;
  /** Waits until the transfer may open a request to its host (the per-host cap, priority). */
  connect(task: TaskRecord, configuration: ConfigurationRecord | undefined): Promise<void>;
  /** A request the transfer opened has ended. */
  disconnect(task: TaskRecord): void;
  /** The transfer's turn ends (its file is stored): the next transfer may start. */
  release(task: TaskRecord): void;
  /** A task as stored now. */
  read(task: TaskRecord): Promise<TaskRecord | undefined>;
  /** The tasks a transfer carries. */
  tasksOf(transferId: string): Promise<TaskRecord[]>;
  /** The browser woke the worker for a transfer's end: with no page visible, the rate limiter counts it. */
  woke(): Promise<void>;
  /** A session's configuration. */
  configuration(sessionId: string): Promise<ConfigurationRecord | undefined>;
}

/**
 * What carries a task's bytes: Background Fetch, or the library's own streaming engine. An
 * engine gets a sink when it is made and the transfers to run; `install` adds the listeners
 * for the events it names in `handlers`. A new engine is a folder under `engines/` and a name.
 */
export interface Engine {
  readonly name: EngineName;
  /**
   * Starts one transfer of tasks stored as running under one `transferId` (several only where
   * `carriesMany`). The engine ends each task through the sink, however the transfer ends. An
   * engine that a page must start returns the order for it.
   */
  start(tasks: TaskRecord[], configuration: ConfigurationRecord | undefined): Promise<FetchOrder | void>;
  /** Whether one transfer may carry many tasks (a Background Fetch registration). */
  readonly carriesMany: boolean;
  /** Whether the transfer `task.transferId` is still under way (or being ended) in this engine. */
  isAlive(task: TaskRecord): Promise<boolean>;
  /** Stops the transfer; the task ends with a `cancelled` URLError. */
  cancel(task: TaskRecord): Promise<void>;
  /**
   * Stops the transfer keeping what it can of the bytes received (stored and recorded in the
   * task), and leaves the task running under its transfer for the caller to stop.
   */
  suspend?(task: TaskRecord): Promise<void>;
  /** Service-worker events this engine handles, by type; `install` adds their listeners. */
  readonly handlers?: Partial<Record<keyof ServiceWorkerGlobalScopeEventMap, (event: ExtendableEvent) => Promise<void>>>;
}

/** URLSession's `timeoutIntervalForRequest` of a session, in ms (60 s by default): how long a transfer may receive nothing. */
export function requestTimeoutMs(configuration: ConfigurationRecord | undefined): number {
  return (configuration?.timeoutIntervalForRequest ?? 60) * 1000;
}
