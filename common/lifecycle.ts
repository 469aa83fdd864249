/**
 * A task's lifecycle: its states, as `URLSessionTask.State`, and the moves allowed between
 * them. Both sides import this file: the worker refuses a move the table does not allow, and
 * the page shows the same states.
 *
 * A `running` task is carried by one transfer at a time, named by its `transferId`. That id is
 * a fence: a transfer that was replaced (a restart, a hand-over between engines, a suspend)
 * may still report, and only the transfer the task names may record bytes in it or end it.
 * A `running` task with no transfer waits: for its `earliestBeginDate`, its conditions, or
 * the next wake.
 */

/** A task's state, as `URLSessionTask.State`. */
export type TaskState = 'running' | 'suspended' | 'canceling' | 'completed';

/**
 * The moves allowed from each state. `running` to `running` is a new transfer (a restart, a
 * hand-over, a wait that ended); `canceling` ends only as `completed`, which is final.
 */
export const TRANSITIONS: { readonly [From in TaskState]: readonly TaskState[] } = {
  suspended: ['running', 'canceling', 'completed'],
  running: ['running', 'suspended', 'canceling', 'completed'],
  canceling: ['completed'],
  completed: [],
};

/** Whether a task may move from `from` to `to`. */
export function canMove(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** What the fence looks at in a task. */
export interface Fenced {
  state: TaskState;
  transferId: string | null;
}

/**
 * Whether the transfer `transferId` still owns the task: the one check before a transfer
 * records bytes in a task or ends it (a late or repeated report of a replaced transfer is
 * ignored). `null` owns a task that no transfer carries (a cancel before any start).
 */
export function owns<T extends Fenced>(task: T | undefined, transferId: string | null): task is T {
  return task !== undefined && task.state !== 'completed' && task.transferId === transferId;
}

/** A new transfer id: also the Background Fetch registration id, hence the prefix. */
export function newTransferId(): string {
  return `bgdl:${crypto.randomUUID()}`;
}
