import type { TaskRecord } from '../common/schema.js';
import { inBatch } from './batch.js';
import { touch } from './changes.js';

/**
 * Records a transfer's progress in its task (parts stored, bytes, validator, ...), if the task
 * is still this transfer's (same `transferId`, not completed). Returns whether it was recorded.
 */
export async function saveTransfer(task: TaskRecord, changes: Partial<TaskRecord>): Promise<boolean> {
  const saved = await inBatch(async (tx) => {
    const tasks = tx.objectStore('tasks');
    const saved = await tasks.get([task.sessionId, task.taskIdentifier]);
    const ours = saved !== undefined && saved.transferId === task.transferId && saved.state !== 'completed';
    if (ours) await tasks.put({ ...saved, ...changes });
    return ours;
  });
  if (saved) touch(task.sessionId, [task.taskIdentifier]);
  return saved;
}
