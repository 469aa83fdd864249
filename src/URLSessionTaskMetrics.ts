import type { EngineName, TaskMetricsRecord } from '../common/schema.js';

/**
 * One request of a task and its response, as `URLSessionTaskTransactionMetrics`: what the web
 * lets a service worker see of it. A Background Fetch registration counts as one request.
 */
export interface URLSessionTaskTransactionMetrics {
  /** What was asked: the URL (before redirects), the method, and the `Range` (null: none). */
  request: { url: string; method: string; range: string | null };
  /** The engine that carried it (`'background-fetch'` or `'stream'`). */
  engine: EngineName;
  fetchStartDate: Date;
  /** When the response's headers came; null if none came. */
  responseStartDate: Date | null;
  responseEndDate: Date;
  /** The response's status; null if none came. */
  statusCode: number | null;
  /** Whether the response came after a redirect. */
  redirected: boolean;
  /** The body bytes it brought that the task kept. */
  countOfResponseBodyBytesReceived: number;
  /**
   * The `PerformanceResourceTiming` fields the browser gave the worker (times as ms since the
   * epoch, sizes in bytes, `nextHopProtocol`); another origin's need `Timing-Allow-Origin`.
   */
  resourceTiming: Record<string, number | string>;
}

/** A task's metrics, as `URLSessionTaskMetrics`, told once by `didFinishCollecting`. */
export interface URLSessionTaskMetrics {
  /** From the task's first `resume()` to its end (`duration` in seconds). */
  taskInterval: { start: Date; end: Date; duration: number };
  /**
   * How many of its requests were redirected. The web hides a chain's hops from the worker:
   * a chain of three redirects counts one.
   */
  redirectCount: number;
  transactionMetrics: URLSessionTaskTransactionMetrics[];
}

/** @internal The metrics as the worker keeps them, with dates. */
export function taskMetrics({ taskInterval, redirectCount, transactionMetrics }: TaskMetricsRecord): URLSessionTaskMetrics {
  const { start, end } = taskInterval;
  return {
    taskInterval: { start: new Date(start), end: new Date(end), duration: (end - start) / 1000 },
    redirectCount,
    transactionMetrics: transactionMetrics.map(
      ({ url, method, range, fetchStartDate, responseStartDate, responseEndDate, statusCode, resourceTiming, ...rest }) => ({
        request: { url, method, range },
        ...rest,
        fetchStartDate: new Date(fetchStartDate),
        responseStartDate: responseStartDate === undefined ? null : new Date(responseStartDate),
        responseEndDate: new Date(responseEndDate),
        statusCode: statusCode ?? null,
        resourceTiming: resourceTiming ?? {},
      }),
    ),
  };
}
