import type { TaskRecord, TransactionRecord } from '../../../common/schema.js';
import { requestOf } from '../../currentRequest.js';
import { contentLength } from '../../http.js';
import { startTransaction } from '../../metrics.js';

/**
 * A registration's part in a task's metrics: one transaction, from the transfer's start to its
 * end (the browser tells no times of its requests), with the bytes and status of its responses.
 */
export async function registrationTransaction(task: TaskRecord, records: readonly BackgroundFetchRecord[]): Promise<TransactionRecord> {
  const { url, method } = requestOf(task);
  const responses = (await Promise.all(records.map((record) => record.responseReady.catch(() => undefined)))).filter((response) => response !== undefined);
  const shown = responses.find((response) => !response.ok) ?? responses.at(-1);
  return {
    ...startTransaction('background-fetch', { url, method, range: null }, task.startedAt),
    responseEndDate: Date.now(),
    ...(shown ? { statusCode: shown.status } : {}),
    redirected: responses.some((response) => response.redirected),
    countOfResponseBodyBytesReceived: responses.reduce((sum, response) => sum + Math.max(0, contentLength(response.headers)), 0),
  };
}
