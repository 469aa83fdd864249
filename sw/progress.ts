import type { TaskRecord } from '../common/schema.js';
import { getDatabase } from './database.js';

/**
 * Records a transfer's progress in its task (parts stored, bytes, validator, ...), if the task
 * is still this transfer's (same `engineId`, not completed). Returns whether it was recorded.
 */
export async function saveTransfer(task: TaskRecord, changes: Partial<TaskRecord>): Promise<boolean> {
  const tx = (await getDatabase()).transaction('tasks', 'readwrite');
  const saved = await tx.store.get([task.sessionId, task.taskIdentifier]);
  const ours = saved !== undefined && saved.engineId === task.engineId && saved.state !== 'completed';
  if (ours) await tx.store.put({ ...saved, ...changes });
  await tx.done;
  return ours;
}
