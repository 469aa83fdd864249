import { deserializeError, URLError, type SerializedError } from '../common/errors.js';
import type { TaskInit, TaskView } from '../common/protocol.js';
import type { RequestRecord, TaskState } from '../common/schema.js';
import { Progress } from './Progress.js';

/** The response a task got, as `HTTPURLResponse`. */
export interface HTTPURLResponse {
  /** The URL of the response, after redirects. */
  readonly url: string;
  readonly statusCode: number;
  readonly statusText: string;
  readonly headers: Headers;
  /** `Content-Length`, or -1 if the server did not send it. */
  readonly expectedContentLength: number;
  readonly mimeType: string | null;
  /**
   * The file name the response suggests: its `Content-Disposition` filename where readable
   * (cross-origin, only if the server exposes the header), else the URL's last segment, else
   * `'download'`.
   */
  readonly suggestedFilename: string;
}

/** What a task asks its session (the one that talks to the worker). */
export interface TaskOwner {
  /** Starts or continues the task; settles once the worker has the call. */
  resume(task: URLSessionTask): Promise<unknown>;
  /** Stops the task's transfer, keeping its bytes; settles once the worker has the call. */
  suspend(task: URLSessionTask): Promise<unknown>;
  /** Cancels the task. */
  cancel(task: URLSessionTask): void;
  /** Cancels the task, keeping its bytes: resolves to resume data, or null. */
  cancelByProducingResumeData(task: URLSessionTask): Promise<string | null>;
}

/**
 * A transfer in a session, as `URLSessionTask`. Its properties mirror the worker's record and
 * change as the transfer goes on. A new task is `suspended` until `resume()`.
 */
export class URLSessionTask {
  static readonly lowPriority = 0.25;
  static readonly defaultPriority = 0.5;
  static readonly highPriority = 0.75;
  /** Unique within the session, kept across reloads. */
  readonly taskIdentifier: number;
  /** A description of the task for the app's own use; kept across reloads. */
  taskDescription = '';
  /** `'suspended'` until `resume()`, then `'running'`, `'canceling'`, `'completed'`. */
  state: TaskState = 'suspended';
  /** A best-guess upper bound of the bytes to receive; the transfer fails past it. -1: unknown. */
  countOfBytesClientExpectsToReceive = -1;
  /**
   * An upload's upper bound on the bytes it sends, or -1 (unknown). A larger file ends the
   * task with a `dataLengthExceedsMaximum` URLError before any byte is sent.
   */
  countOfBytesClientExpectsToSend = -1;
  /** The transfer does not start before this time (set it before `resume()`). */
  earliestBeginDate: Date | null = null;
  /** 0 (lowest) to 1 (highest), as `URLSessionTask.defaultPriority` (0.5) and its neighbours. */
  priority = URLSessionTask.defaultPriority;
  /** Body bytes received so far. */
  countOfBytesReceived = 0;
  /** The size of the body, -1 while unknown. */
  countOfBytesExpectedToReceive = -1;
  /** Body bytes sent so far (upload tasks). */
  countOfBytesSent = 0;
  /** The size of the body to send (upload tasks). */
  countOfBytesExpectedToSend = 0;
  /** The server's response, once the transfer has one. */
  response: HTTPURLResponse | null = null;
  /** Why the task failed, once it has. */
  error: URLError | null = null;
  /** @internal The worker's last record of the task, once the page has seen one. */
  declare record?: TaskView;
  /** @internal This page has seen the task running: it gets a last progress event before it ends. */
  declare live?: boolean;
  /** @internal What a task the worker does not know yet is created with (its resume data or file). */
  declare init?: Partial<TaskInit>;
  readonly #owner: TaskOwner;
  /** A re-attached task's request is made only when asked for: many tasks re-attach at once. */
  #request: Request | RequestRecord;

  /** @internal Tasks are made by `URLSession.downloadTask()`. */
  constructor(owner: TaskOwner, taskIdentifier: number, originalRequest: Request | RequestRecord) {
    this.#owner = owner;
    this.taskIdentifier = taskIdentifier;
    this.#request = originalRequest;
  }

  /** The request the task was created with. */
  get originalRequest(): Request {
    const request = this.#request;
    return request instanceof Request ? request : (this.#request = new Request(request.url, request));
  }

  /**
   * The request the transfer sends: the original, or the new one the delegate gave
   * (`willBeginDelayedRequest`), with the session's `httpAdditionalHeaders`. (Redirects are
   * followed by the browser and do not show here.)
   */
  get currentRequest(): Request {
    // Before its first start, the worker's own (a task made from resume data has its headers).
    const current = this.record?.currentRequest ?? this.record?.originalRequest;
    return current ? new Request(current.url, current) : this.originalRequest;
  }

  /**
   * The transfer's progress, as Foundation's `Progress`, in bytes (received by a download, sent
   * by an upload): `fractionCompleted`, and the `throughput` and `estimatedTimeRemaining` this
   * page measures, kept current with each `didWriteData` or `didSendBodyData`.
   */
  readonly progress: Progress = new Progress(() =>
    this instanceof URLSessionUploadTask
      ? [this.countOfBytesSent, this.countOfBytesExpectedToSend]
      : [this.countOfBytesReceived, this.countOfBytesExpectedToReceive],
  );

  /** Starts the task. Calling it on a running or completed task does nothing. */
  resume(): void {
    if (this.state !== 'suspended') return;
    this.state = 'running';
    this.#asked(this.#owner.resume(this));
  }

  /** Calls of `resume()` and `suspend()` the worker has not yet had. */
  #asking = 0;

  /** Until the worker has the call, the state the app set stands: a snapshot read before it does not undo it. */
  #asked(call: Promise<unknown>): void {
    this.#asking++;
    void call.finally(() => this.#asking--);
  }

  /**
   * Stops the transfer and keeps the bytes received; `resume()` continues from them (with
   * `Range` + `If-Range`, or from zero if the server changed the file or cannot resume).
   */
  suspend(): void {
    if (this.state !== 'running') return;
    this.state = 'suspended';
    this.#asked(this.#owner.suspend(this));
  }

  /** Cancels the task: it ends with `didCompleteWithError` and a `cancelled` URLError. */
  cancel(): void {
    void this.end(false);
  }

  /** @internal Cancels the task (keeping its bytes as resume data if asked); null if it had ended. */
  protected async end(keepBytes: boolean): Promise<string | null> {
    if (this.state === 'completed' || this.state === 'canceling') return null;
    this.state = 'canceling';
    if (keepBytes) return this.#owner.cancelByProducingResumeData(this);
    this.#owner.cancel(this);
    return null;
  }

  /** @internal Takes the worker's record of the task. */
  update(record: TaskView): void {
    this.record = record;
    if (record.state === 'running') this.live = true;
    this.taskDescription = record.taskDescription;
    this.earliestBeginDate = record.earliestBeginDate === null ? null : new Date(record.earliestBeginDate);
    this.countOfBytesExpectedToSend = record.countOfBytesExpectedToSend;
    this.priority = record.priority;
    this.countOfBytesClientExpectsToReceive = record.countOfBytesClientExpectsToReceive || -1;
    this.countOfBytesClientExpectsToSend = record.countOfBytesClientExpectsToSend || -1;
    const { response } = record;
    if (response) {
      // The worker worked out the rest; the headers become Headers (they cannot be posted) when
      // first read: many tasks re-attach at once, and few of their headers are read.
      const { status: statusCode, headers, ...rest } = response;
      let made: Headers | undefined;
      this.response = {
        ...rest,
        statusCode,
        get headers() {
          return (made ??= new Headers(JSON.parse(headers) as [string, string][]));
        },
      };
    }
    if (record.state === 'completed') {
      // The end is applied when its events are delivered, so that the delegate sees the task
      // change at the moment it is told.
      if (this.state !== 'completed') this.state = 'running';
      return;
    }
    if (record.state !== 'running' || record.transferId === null) this.progress.stop();
    if (this.#asking === 0) this.state = record.state;
    this.countOfBytesSent = Math.max(this.countOfBytesSent, record.countOfBytesSent);
    this.countOfBytesReceived = Math.max(this.countOfBytesReceived, record.countOfBytesReceived);
    this.countOfBytesExpectedToReceive = record.countOfBytesExpectedToReceive;
  }

  /** @internal The task has completed, successfully if `error` is null. */
  complete(error: unknown): void {
    this.state = 'completed';
    this.progress.stop();
    if (!error) return void (this.error = null);
    const rebuilt = error instanceof Error ? error : deserializeError(error as SerializedError);
    // Whatever ended the task is told as a URLError, so that `code` is always there.
    this.error = rebuilt instanceof URLError ? rebuilt : new URLError('unknown', `${rebuilt.name}: ${rebuilt.message}`);
  }
}

/** An upload task, as `URLSessionUploadTask`: sends a file; its response is in `response`. */
export class URLSessionUploadTask extends URLSessionTask {}

/** A download task, as `URLSessionDownloadTask`. */
export class URLSessionDownloadTask extends URLSessionTask {
  /**
   * Cancels the task, keeping its bytes: resolves to resume data (a string to store as it is)
   * that `session.downloadTask({ resumeData })` continues from, or null if the server's
   * response cannot be resumed (no strong ETag nor Last-Modified).
   */
  cancelByProducingResumeData(): Promise<string | null> {
    return this.end(true);
  }
}
