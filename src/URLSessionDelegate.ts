import type { URLError } from '../common/errors.js';
import type { DelayedRequestAnswer } from './DelayedRequests.js';
import type { DownloadLocation } from './DownloadLocation.js';
import type { URLSession } from './URLSession.js';
import type { URLSessionTask } from './URLSessionTask.js';
import type { URLSessionTaskMetrics } from './URLSessionTaskMetrics.js';

/**
 * What a session tells its delegate, as `URLSessionDownloadDelegate`. Every method is
 * optional; a method may return a promise, and the next event waits for it.
 */
export interface URLSessionDelegate {
  /** Bytes were written for a download (only while a page of the app is open). */
  didWriteData?(session: URLSession, task: URLSessionTask, bytesWritten: number, totalBytesWritten: number, totalBytesExpectedToWrite: number): void;
  /** Body bytes were sent for an upload (only while a page of the app is open). */
  didSendBodyData?(session: URLSession, task: URLSessionTask, bytesSent: number, totalBytesSent: number, totalBytesExpectedToSend: number): void;
  /**
   * A task's transfer is about to start after a delay, and may change its request first (a
   * fresh token, a new signed URL): when its `earliestBeginDate` came, when it starts again
   * after an interruption, and when the server refused it with `401` or `403` (it then waits,
   * with its bytes, until a page of the app answers). Asked only while a page of the app is
   * open; unanswered for 10 s, a start goes on as it is. A new request must be of the same
   * file: the bytes kept are checked against it as on any resume, and dropped if it is another.
   * `continueLoading` after a refusal ends the task with it.
   */
  willBeginDelayedRequest?(session: URLSession, task: URLSessionTask, request: Request): DelayedRequestAnswer | Promise<DelayedRequestAnswer>;
  /**
   * A task waits to start: for good conditions (offline, Save-Data, a slow or disallowed
   * network), or for a new request (`willBeginDelayedRequest`). `task`'s `debugState()` says which.
   */
  taskIsWaitingForConnectivity?(session: URLSession, task: URLSessionTask): void;
  /** A download finished: `location` is readable until this returns or its promise settles. */
  didFinishDownloadingTo?(session: URLSession, task: URLSessionTask, location: DownloadLocation): void | Promise<void>;
  /**
   * A task's metrics (its requests, their times and bytes, the engine of each), told once,
   * just before `didCompleteWithError`.
   */
  didFinishCollecting?(session: URLSession, task: URLSessionTask, metrics: URLSessionTaskMetrics): void | Promise<void>;
  /** A task ended: `error` is null on success, else a `URLError` (`name`, `code`, `status`). */
  didCompleteWithError?(session: URLSession, task: URLSessionTask, error: URLError | null): void | Promise<void>;
  /** The session was invalidated (`invalidateAndCancel`, `finishTasksAndInvalidate`) and its tasks have ended. */
  didBecomeInvalidWithError?(session: URLSession, error: Error | null): void | Promise<void>;
  /** Every queued event of the session has been delivered and no task is left running. */
  didFinishEvents?(session: URLSession): void | Promise<void>;
}
