/**
 * What the service worker and a page's writer say to each other over the port the page gives
 * the worker (`connectWriter`). A writer is a dedicated worker of a page: there a body can be
 * written to the origin private file system through a `FileSystemSyncAccessHandle`, which a
 * service worker does not have (measured in bench/README.md, "A faster way").
 */

/** The first message of a writer on its port, once it holds its Web Lock (`lock`). */
export interface WriterHello {
  type: 'hello';
  /** A Web Lock the writer holds for its life: granted to the worker, it tells the writer is gone. */
  lock: string;
}

/**
 * Fetch `url` and write its body from byte `start` of a file of `size` bytes, in parts of at
 * most `partSize` bytes, each a file named by `temporaryKey(sessionId, taskIdentifier, index,
 * by)` from `firstPart` on. The response must continue the file the worker saw (`validator`).
 */
export interface WriteOrder {
  type: 'write';
  id: string;
  url: string;
  headers: [string, string][];
  start: number;
  size: number;
  validator: string | null;
  sessionId: string;
  taskIdentifier: number;
  firstPart: number;
  by: string;
  partSize: number;
}

/** Ends a write: `stop` at the bytes received (the part being written is kept), `abort` at once. */
export interface WriteEnd {
  type: 'stop' | 'abort';
  id: string;
}

/** What a writer reports of a write, in order. */
export type WriterReport =
  /** The response's headers came, and it continues the file. */
  | { type: 'responded'; id: string; status: number; redirected: boolean }
  | { type: 'progress'; id: string; received: number }
  /** Part `index` is written whole, up to byte `end` of the file. */
  | { type: 'part'; id: string; index: number; end: number }
  /** The write ended: the body's end, or a `stop`. */
  | { type: 'done'; id: string; end: number; complete: boolean }
  /** The write failed: `name` and `message` of the error, and the response's status if it was not as asked. */
  | { type: 'failed'; id: string; name: string; message: string; status?: number };

/** Whether `data` is a report a writer may send, well formed (checked before the worker reads it). */
export function isWriterReport(data: unknown): data is WriterReport | WriterHello {
  if (typeof data !== 'object' || data === null) return false;
  const report = data as Record<string, unknown>;
  const count = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;
  if (report.type === 'hello') return typeof report.lock === 'string';
  if (typeof report.id !== 'string') return false;
  switch (report.type) {
    case 'responded':
      return count(report.status) && typeof report.redirected === 'boolean';
    case 'progress':
      return count(report.received);
    case 'part':
      return count(report.index) && count(report.end);
    case 'done':
      return count(report.end) && typeof report.complete === 'boolean';
    case 'failed':
      return typeof report.name === 'string' && typeof report.message === 'string' && (report.status === undefined || count(report.status));
    default:
      return false;
  }
}
