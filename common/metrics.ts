/**
 * A task's metrics as both sides see them (`URLSessionTaskMetrics`): stored with the task as its
 * transfers make requests, and told with its end.
 */
import type { EngineName } from './schema.js';

/**
 * One request of a task and its response, as `URLSessionTaskTransactionMetrics` (times in ms
 * since the epoch). A Background Fetch registration counts as one, from its start to its end.
 */
export interface TransactionRecord {
  /** The engine that carried it. */
  engine: EngineName;
  url: string;
  method: string;
  /** The `Range` it asked, or null. */
  range: string | null;
  fetchStartDate: number;
  /** When its response's headers came (absent: none came). */
  responseStartDate?: number;
  responseEndDate: number;
  /** The response's status (absent: none came). */
  statusCode?: number;
  /** Whether the response came after a redirect (the web tells no more of a chain). */
  redirected: boolean;
  /** The body bytes it brought that the task kept. */
  countOfResponseBodyBytesReceived: number;
  /** The `PerformanceResourceTiming` fields the browser gave (times as ms since the epoch), where it gave them. */
  resourceTiming?: Record<string, number | string>;
}

/** A task's metrics, as `URLSessionTaskMetrics`, told once with its end. */
export interface TaskMetricsRecord {
  /** From its first resume (or its creation) to its end, ms since the epoch. */
  taskInterval: { start: number; end: number };
  /** How many of its requests were redirected (a chain counts once: fetch hides its hops). */
  redirectCount: number;
  transactionMetrics: TransactionRecord[];
}
