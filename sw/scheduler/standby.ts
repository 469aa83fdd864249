/**
 * The hand-over's plan, as pure functions: what a Background Fetch registration fetches of a
 * streamed download so that it goes on with no page (see handOver.ts), and under which id.
 */
import type { FetchOrder } from '../../common/protocol.js';
import type { ConfigurationRecord, TaskRecord } from '../../common/schema.js';
import { PART_SIZE, partOwners } from '../../common/cacheKeys.js';
import { orderTitle, requestsOf } from '../engines/background-fetch/requests.js';
import { headerValue } from '../responseRecord.js';
import { handOverId, type HandOverPoint } from './handOverId.js';
import { isSmall, SMALL_DOWNLOAD } from './plan.js';

/** Whether a file's server said it serves byte ranges (CORS may hide it: the file is then fetched whole). */
function servesRanges(task: TaskRecord): boolean {
  return task.response ? headerValue(task.response.headers, 'accept-ranges')?.trim().toLowerCase() === 'bytes' : false;
}

/**
 * What a registration fetches of a streamed download, from `at` (its parts then): the ranges
 * after the bytes kept, where the server serves ranges of a known version; else the whole file,
 * but only while that throws away less than it fetches (the bytes kept are under half the
 * file, or under a part when its size is unknown): past that, the download keeps streaming
 * while the worker lives (up to 5 minutes in Chromium), and a wake or the next page resumes it.
 * Undefined if it is not a streamed download, or stays streaming (as a small one does).
 */
export function handOverPlan(
  task: TaskRecord,
  at?: HandOverPoint,
): { point: HandOverPoint; ranged: boolean; update: Partial<TaskRecord>; requests: FetchOrder['requests'] } | undefined {
  if (task.state !== 'running' || task.engine !== 'stream' || !task.transferId || task.kind !== 'download') return;
  const size = task.countOfBytesExpectedToReceive;
  const ranged = task.validator !== null && size > PART_SIZE && servesRanges(task);
  const received = task.countOfBytesReceived;
  // A small download ends before the worker would (see `isSmall`): it streams on.
  if (isSmall(task) || (size >= 0 && size - received <= SMALL_DOWNLOAD)) return;
  if (!ranged && (size > 0 ? received * 2 >= size : received >= PART_SIZE)) return;
  const parts = ranged ? (at?.parts ?? task.parts) : 0;
  const point = { from: task.transferId, parts, received: ranged ? (at?.received ?? received) : 0 };
  if (parts > task.parts || point.received > received || (ranged && point.received >= size)) return;
  const kept = { parts, partsBy: partOwners(task, parts), countOfBytesReceived: point.received, receivedAtStart: point.received, distinctRanges: false };
  const update = ranged ? kept : { ...kept, validator: null };
  return { point, ranged, update: { ...update, engine: 'background-fetch', transferId: handOverId(point) }, requests: requestsOf({ ...task, ...update }) };
}

/** For a snapshot: the order that would carry each streamed download of `tasks` on with no page. */
export function standbyOrders(tasks: readonly TaskRecord[], configuration: ConfigurationRecord | undefined): FetchOrder[] {
  if (configuration?.streamsWhileVisible === false) return [];
  return tasks.flatMap((task) => {
    const plan = handOverPlan(task);
    if (!plan) return [];
    const size = task.countOfBytesExpectedToReceive;
    const limit = task.countOfBytesClientExpectsToReceive;
    const total = plan.ranged ? size - plan.point.received : limit;
    const options: FetchOrder['options'] = { title: configuration?.title || orderTitle(task) };
    if (configuration?.icon) options.icons = [{ src: configuration.icon }];
    if (total > 0) options.downloadTotal = total;
    const order: FetchOrder = {
      transferId: handOverId(plan.point),
      tasks: [{ taskIdentifier: task.taskIdentifier, received: plan.point.received }],
      requests: plan.requests,
      body: null,
      options,
    };
    return [order];
  });
}
