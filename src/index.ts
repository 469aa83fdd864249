/** The page entry: `import { URLSession, URLSessionConfiguration } from 'bgdl'`. */
export { URLSession } from './URLSession.js';
export { URLSessionConfiguration } from './URLSessionConfiguration.js';
export { URLSessionTask, URLSessionDownloadTask, URLSessionUploadTask, type HTTPURLResponse } from './URLSessionTask.js';
export type { Progress } from './Progress.js';
export type { URLSessionTaskMetrics, URLSessionTaskTransactionMetrics } from './URLSessionTaskMetrics.js';
export type { URLSessionDelegate } from './URLSessionDelegate.js';
export type { DelayedRequestAnswer } from './DelayedRequests.js';
export type { DelayedRequestDisposition } from '../common/protocol.js';
export { DownloadLocation } from './DownloadLocation.js';
export { documents, type StoredDocument } from './documents.js';
export { registerServiceWorker } from './registerServiceWorker.js';
export { handleEventsForBackgroundURLSession } from './handleEventsForBackgroundURLSession.js';
export { URLError, type URLErrorCode } from '../common/errors.js';
