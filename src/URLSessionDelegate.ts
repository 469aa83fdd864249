import type { URLError } from '../common/errors.js';
import type { DownloadLocation } from './DownloadLocation.js';
import type { URLSession } from './URLSession.js';
import type { URLSessionTask } from './URLSessionTask.js';

/**
 * What a session tells its delegate, as `URLSessionDownloadDelegate`. Every method is
 * optional; a method may return a promise, and the next event waits for it.
 */
export interface URLSessionDelegate {
  /** Bytes were written for a download (only while a page of the app is open). */
  didWriteData?(session: URLSession, task: URLSessionTask, bytesWritten: number, totalBytesWritten: number, totalBytesExpectedToWrite: number): void;
  /** Body bytes were sent for an upload (only while a page of the app is open). */
  didSendBodyData?(session: URLSession, task: URLSessionTask, bytesSent: number, totalBytesSent: number, totalBytesExpectedToSend: number): void;
  /** A task waits for good conditions to start (offline, Save-Data, a slow or disallowed network). */
  taskIsWaitingForConnectivity?(session: URLSession, task: URLSessionTask): void;
  /** A download finished: `location` is readable until this returns or its promise settles. */
  didFinishDownloadingTo?(session: URLSession, task: URLSessionTask, location: DownloadLocation): void | Promise<void>;
  /** A task ended: `error` is null on success, else a `URLError` (`name`, `code`, `status`). */
  didCompleteWithError?(session: URLSession, task: URLSessionTask, error: URLError | null): void | Promise<void>;
  /** The session was invalidated (`invalidateAndCancel`, `finishTasksAndInvalidate`) and its tasks have ended. */
  didBecomeInvalidWithError?(session: URLSession, error: Error | null): void | Promise<void>;
  /** Every queued event of the session has been delivered and no task is left running. */
  didFinishEvents?(session: URLSession): void | Promise<void>;
}
