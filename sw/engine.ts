import type { FetchOrder } from '../common/protocol.js';
import type { ConfigurationRecord, EngineName, TaskRecord } from '../common/schema.js';

/** What carries a task's bytes: Background Fetch, or the library's own streaming engine. */
export interface Engine {
  readonly name: EngineName;
  /**
   * Starts the transfer of a task already stored as running under `task.transferId`. The
   * engine ends the task itself (`completeTask`) when the transfer ends, however it ends.
   * An engine that a page must start returns the order for it.
   */
  start(task: TaskRecord, configuration: ConfigurationRecord | undefined): Promise<FetchOrder | void>;
  /**
   * Starts, as one transfer, tasks resumed together and stored as running under one shared
   * `transferId` (only an engine that can carry many tasks in one transfer has it).
   */
  startMany?(tasks: TaskRecord[], configuration: ConfigurationRecord | undefined): Promise<FetchOrder | void>;
  /** Whether the transfer `task.transferId` is still under way (or being ended) in this engine. */
  isAlive(task: TaskRecord): Promise<boolean>;
  /** Stops the transfer; the task ends with a `cancelled` URLError. */
  cancel(task: TaskRecord): Promise<void>;
  /**
   * Stops the transfer keeping what it can of the bytes received (stored and recorded in the
   * task), and leaves the task running under `task.transferId` for the caller to stop. Engines
   * without it are only cancelled.
   */
  suspend?(task: TaskRecord): Promise<void>;
}
