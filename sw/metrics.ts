/**
 * A task's metrics, as `URLSessionTaskMetrics`: each request of its transfers is a transaction
 * (`TransactionRecord`), with the `PerformanceResourceTiming` fields the browser gives the
 * worker where it has them (another origin's need `Timing-Allow-Origin`).
 */
import type { EngineName, TaskMetricsRecord, TaskRecord, TransactionRecord } from '../common/schema.js';

/** A task keeps its last this many transactions (a transfer retried for days makes many). */
const MAX_TRANSACTIONS = 100;

/** The timing fields copied, as times (`timeOrigin`-relative in the entry). */
const TIMES = ['redirectStart', 'redirectEnd', 'fetchStart', 'domainLookupStart', 'domainLookupEnd', 'connectStart'] as const;
const MORE_TIMES = ['secureConnectionStart', 'connectEnd', 'requestStart', 'responseStart', 'responseEnd'] as const;
const SIZES = ['transferSize', 'encodedBodySize', 'decodedBodySize'] as const;

let buffered = false;

/** A transaction as a request starts. */
export function startTransaction(engine: EngineName, request: { url: string; method: string; range: string | null }, at = Date.now()): TransactionRecord {
  return { engine, ...request, fetchStartDate: at, responseEndDate: at, redirected: false, countOfResponseBodyBytesReceived: 0 };
}

/** A transaction whose response's headers came. */
export function responded(transaction: TransactionRecord, response: { status: number; redirected: boolean }): void {
  Object.assign(transaction, { responseStartDate: Date.now(), statusCode: response.status, redirected: response.redirected });
}

/** A transaction as it ended, with the bytes kept of it and what resource timing tells. */
export function endTransaction(transaction: TransactionRecord, bytes: number): TransactionRecord {
  const timing = resourceTiming(transaction.url);
  return { ...transaction, responseEndDate: Date.now(), countOfResponseBodyBytesReceived: Math.max(0, bytes), ...(timing ? { resourceTiming: timing } : {}) };
}

/** The task's transactions with `more` after them, the last `MAX_TRANSACTIONS`. */
export function withTransactions(task: Pick<TaskRecord, 'transactions'>, more: readonly TransactionRecord[]): TransactionRecord[] {
  return [...(task.transactions ?? []), ...more].slice(-MAX_TRANSACTIONS);
}

/** A task's metrics as it ends now. */
export function taskMetrics(task: Pick<TaskRecord, 'transactions' | 'resumedAt' | 'createdAt'>, end = Date.now()): TaskMetricsRecord {
  const transactionMetrics = task.transactions ?? [];
  // Its first resume is stamped as the call is taken, its first request's start a moment before.
  const start = Math.min(Math.floor(task.resumedAt || task.createdAt), ...transactionMetrics.map((each) => each.fetchStartDate));
  return {
    taskInterval: { start, end },
    redirectCount: transactionMetrics.filter((transaction) => transaction.redirected).length,
    transactionMetrics,
  };
}

/** The last resource timing entry of the worker's requests for `url`, its non-zero fields. */
function resourceTiming(url: string): Record<string, number | string> | undefined {
  if (typeof performance?.getEntriesByName !== 'function') return undefined;
  if (!buffered) {
    // The worker's entries would fill the buffer and stop: the buffer is emptied when full.
    buffered = true;
    performance.addEventListener?.('resourcetimingbufferfull', () => performance.clearResourceTimings());
  }
  const entry = (performance.getEntriesByName(url, 'resource') as PerformanceResourceTiming[]).at(-1);
  if (!entry) return undefined;
  const out: Record<string, number | string> = {};
  if (entry.nextHopProtocol) out.nextHopProtocol = entry.nextHopProtocol;
  for (const key of [...TIMES, ...MORE_TIMES]) if (entry[key] > 0) out[key] = Math.round(performance.timeOrigin + entry[key]);
  for (const key of SIZES) if (entry[key] > 0) out[key] = entry[key];
  return out;
}
