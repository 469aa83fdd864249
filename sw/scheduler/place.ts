/**
 * How one `Scheduler.start` places the tasks asked to start: for each, the decision of
 * `plan.ts` (start on an engine, wait, fail, skip), written into its record.
 */
import type { URLError } from '../../common/errors.js';
import { newTransferId } from '../../common/lifecycle.js';
import type { ConfigurationRecord, EngineName, TaskRecord } from '../../common/schema.js';
import { requestToSend } from '../currentRequest.js';
import { deadlineOf, decide, streamsTogether, type Environment } from './plan.js';
import type { Created, StartEntry } from './Scheduler.js';

/** One `Scheduler.start`: what it decides with, and what it decided. */
export interface Batch {
  env: Environment;
  configuration: ConfigurationRecord | undefined;
  engine: EngineName;
  created: Created | undefined;
  /** The transfer the downloads an engine carries together share. */
  shared: string;
  started: TaskRecord[];
  failed: [TaskRecord, URLError][];
  /** Some task asks its delegate (see `askReason`). */
  asked?: boolean;
}

/**
 * Decides, for each task asked to start (`records`, as read; `taken`: the identifiers the
 * session has), and changes the records to match; returns those to write.
 */
export function place(
  batch: Batch,
  entries: StartEntry[],
  records: (TaskRecord | undefined)[],
  taken: ReadonlySet<number>,
): { write: TaskRecord[]; tell: boolean } {
  const { env, configuration, engine, created } = batch;
  const streamed = streamsTogether(records, engine, env);
  const write: TaskRecord[] = [];
  let tell = false;
  const seen = new Set<number>();
  for (const [index, [taskIdentifier, previous, cause]] of entries.entries()) {
    const task = records[index];
    if (seen.has(taskIdentifier)) continue; // a task listed twice is started once
    seen.add(taskIdentifier);
    const unstored = created?.unstored.has(taskIdentifier) === true;
    if (unstored && taken.has(taskIdentifier)) {
      created!.taken.push(taskIdentifier);
      continue;
    }
    const decision = decide(task, previous, configuration, engine, streamed, env, cause);
    if (decision.kind === 'skip') continue;
    const record = task!;
    // Resumed by the app (not restarted): it takes its place in the start order now, and its
    // resource timeout runs from its first resume.
    if (created && record.state === 'suspended') {
      Object.assign(record, { resumedAt: resumeStamp(), deadline: record.deadline ?? deadlineOf(configuration, env.now) });
    }
    tell ||= unstored || decision.kind !== 'wait' || record.waitingFor === null;
    if (decision.kind === 'fail') {
      record.waitingFor = null;
      if (unstored) write.push(record);
      batch.failed.push([record, decision.error]);
    } else if (decision.kind === 'start') {
      // Only starts that brought no byte more count toward the limit.
      const attempts = record.countOfBytesReceived > record.receivedAtStart ? 0 : record.attempts;
      const transferId = decision.together ? batch.shared : newTransferId();
      const started = { startedAt: env.now, receivedAtStart: record.countOfBytesReceived, attempts: attempts + 1 };
      write.push(Object.assign(record, { state: 'running', engine: decision.engine, transferId, waitingFor: null, ask: null, ...started }));
      // Kept only where it differs from the request it comes from (`requestOf` falls back to
      // that): a page re-attaching reads every record whole, and most would hold it twice.
      const current = requestToSend(record, configuration);
      if (current === (record.newRequest ?? record.originalRequest)) delete record.currentRequest;
      else record.currentRequest = current;
      batch.started.push(record);
    } else if (decision.kind === 'ask') {
      // The transfer waits for a page's delegate to answer (`Scheduler.answer`).
      const ask = { id: crypto.randomUUID(), reason: decision.reason, at: env.now };
      write.push(Object.assign(record, { state: 'running', engine: null, transferId: null, waitingFor: 'willBeginDelayedRequest', ask }));
      batch.asked = true;
    } else {
      // Waiting for its conditions (tried at each wake) or its time: running, with no transfer.
      const waitingFor = decision.kind === 'wait' ? decision.reason : null;
      write.push(Object.assign(record, { state: 'running', engine: null, transferId: null, waitingFor }));
    }
  }
  return { write, tell };
}

let lastResume = 0;

/** When a task is resumed: the time, made later than the last one so that order is kept. */
function resumeStamp(): number {
  return (lastResume = Math.max(Date.now(), lastResume + 0.001));
}
