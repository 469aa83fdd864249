/** The service-worker entry: `import { installURLSessionWorker } from 'bgdl/sw'`. */
export { installURLSessionWorker, type WorkerOptions } from './install.js';
export { URLError, type URLErrorCode } from '../common/errors.js';
export { isDocumentRequest, serveDocument } from './documents.js';
