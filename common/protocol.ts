/**
 * The page-to-worker protocol: the calls a page makes (through Comlink, one MessageChannel
 * per call so that each call wakes a stopped worker), and the notices the worker broadcasts.
 * Both sides import this file.
 */
import type { SerializedError } from './errors.js';
import type { ConfigurationRecord, DigestAlgorithm, EngineName, EventRecord, RequestRecord, ResponseRecord, TaskRecord } from './schema.js';

/** `type` of the message that carries a call's port to the worker. */
export const CONNECT = 'bgdl:connect';

/** The message a page posts to the worker, with a `MessagePort` transferred beside it. */
export interface ConnectMessage {
  type: typeof CONNECT;
  /** The call's id, by which the page may ask whether the worker still runs it (`callState`). */
  call?: string;
}

/** Whether a message is a well-formed connect message. */
export function isConnectMessage(data: unknown, ports: readonly MessagePort[]): data is ConnectMessage {
  if (typeof data !== 'object' || data === null || (data as ConnectMessage).type !== CONNECT || ports.length !== 1) return false;
  const { call } = data as ConnectMessage;
  return call === undefined || (typeof call === 'string' && call.length <= 64);
}

/** What a worker knows of a call: under way, answered, or never had (its worker stopped). */
export type CallState = 'running' | 'done' | 'unknown';

/** What a new task is made from. */
export interface TaskInit {
  taskIdentifier: number;
  request: RequestRecord;
  taskDescription: string;
  countOfBytesClientExpectsToReceive: number;
  /** An upload's upper bound on the bytes it sends (0: none). */
  countOfBytesClientExpectsToSend: number;
  earliestBeginDate: number | null;
  priority: number;
  /** Resume data from `cancelByProducingResumeData()`: the task continues from its bytes. */
  resumeData: string | null;
  /** An upload task's file (uploads come only from files, as in Apple's background sessions). */
  body: Blob | null;
}

/**
 * A Background Fetch for the page to start: browsers let only a page start one, so the worker
 * decides what runs and under which id, and the page carries the order out. One registration
 * may carry many tasks' requests (tasks resumed together), since Chromium runs one at a time.
 */
export interface FetchOrder {
  transferId: string;
  /** The tasks it carries, each with the bytes of its file stored before (its progress adds them). */
  tasks: { taskIdentifier: number; received: number }[];
  /** Every task's requests: a file's request, or its byte ranges when it is fetched in ranges. */
  requests: RequestRecord[];
  /** An upload's body (an upload goes alone). */
  body: Blob | null;
  options: { title: string; icons?: { src: string }[]; downloadTotal?: number; uploadTotal?: number };
}

/** What a delegate answers `willBeginDelayedRequest`, as `URLSession.DelayedRequestDisposition`. */
export type DelayedRequestDisposition = 'continueLoading' | 'useNewRequest' | 'cancel';

/**
 * A task as a page gets it: the fields of the worker's record that the page shows or needs,
 * and the response's headers as one object (`new Headers()` takes either form). Posting 1,000
 * tasks took about twice as long with each header a pair, and with every field.
 */
export type TaskView = Pick<
  TaskRecord,
  | 'taskIdentifier'
  | 'kind'
  | 'state'
  | 'taskDescription'
  | 'originalRequest'
  | 'currentRequest'
  | 'countOfBytesSent'
  | 'countOfBytesExpectedToSend'
  | 'countOfBytesReceived'
  | 'countOfBytesExpectedToReceive'
  | 'countOfBytesClientExpectsToReceive'
  | 'countOfBytesClientExpectsToSend'
  | 'earliestBeginDate'
  | 'priority'
  | 'waitingFor'
  | 'ask'
  | 'engine'
  | 'transferId'
  | 'receivedAtStart'
> & { response: ResponseView | null };

/** A response as a page gets it: as stored (its headers the JSON of their pairs), and its file's name. */
export type ResponseView = ResponseRecord & { suggestedFilename: string };

/** A session's tasks, the events waiting for its delegate, and the transfers to start. */
export interface SessionSnapshot {
  tasks: TaskView[];
  events: EventRecord[];
  orders: FetchOrder[];
  /**
   * What a `snapshot` stands for, to give back to the next one: it then holds only the tasks
   * changed since, and `gone`, those that left the session. Without `gone`, it holds them all.
   */
  stamp?: string;
  gone?: number[];
  /** Tasks `resume` refused (bad input), with the TypeError each got. */
  rejected?: [taskIdentifier: unknown, error: SerializedError][];
  /**
   * For each streamed download of `tasks` (where Background Fetch exists), the order that
   * carries it on with no page: a page starts them as it goes away, then calls `handOver`.
   */
  standby?: FetchOrder[];
}

/** What the worker answers. Every method validates its arguments and throws a TypeError if bad. */
export interface WorkerApi {
  /** Records the session's configuration, restarts what should run, and returns its state. */
  attach(configuration: ConfigurationRecord): Promise<SessionSnapshot>;
  /**
   * The session's undelivered events and its tasks (only those changed since `since`, a stamp
   * from an earlier snapshot, if the worker can tell); first starts again the transfers that died.
   */
  snapshot(sessionId: string, since?: string): Promise<SessionSnapshot>;
  /**
   * Starts (or continues) tasks resumed together, in one call: a number is a task the worker
   * has, a `TaskInit` a new one. The tasks go into as few transfers as their engine allows. The
   * snapshot holds the tasks and the orders; a task with bad input is in `rejected`.
   */
  resume(sessionId: string, tasks: (number | TaskInit)[]): Promise<SessionSnapshot>;
  /**
   * A page going away started the standby orders `transferIds`: with no page of the app
   * visible, their downloads go to them (else they are aborted and the downloads stream on).
   */
  handOver(sessionId: string, transferIds: string[]): Promise<void>;
  /**
   * A page's delegate answered the ask `ask` of a task (`willBeginDelayedRequest`): its transfer
   * starts, with `request` in place of its own for `useNewRequest`, or the task ends. Returns
   * the Background Fetch orders to start, or null if the ask was answered already (by another
   * page) or is no longer asked.
   */
  answer(sessionId: string, taskIdentifier: number, ask: string, disposition: DelayedRequestDisposition, request?: RequestRecord): Promise<FetchOrder[] | null>;
  /**
   * Takes a port to a writer the page made (a dedicated worker, see `sw/writer`): while the
   * page is visible, large downloads may be written through it.
   */
  connectWriter(port: MessagePort): Promise<void>;
  /** Ends the tasks of an order the page could not carry out. */
  fail(sessionId: string, transferId: string, error: SerializedError): Promise<void>;
  /** Cancels a task; it ends with a `cancelled` URLError. */
  cancel(sessionId: string, taskIdentifier: number): Promise<void>;
  /** Stops a task's transfer and keeps its bytes, for a later `resume`. */
  suspend(sessionId: string, taskIdentifier: number): Promise<SessionSnapshot>;
  /**
   * Cancels a task and keeps its bytes under resume data (null if there is nothing a server
   * would let it resume from).
   */
  cancelByProducingResumeData(sessionId: string, taskIdentifier: number): Promise<string | null>;
  /** What the worker is doing for a session (`session.debugState()`). */
  debugState(sessionId: string): Promise<DebugState>;
  /** The sessions with events waiting in the outbox. */
  pendingSessions(): Promise<string[]>;
  /** The app has handled a session's background events: its launch notification goes. */
  eventsHandled(sessionId: string): Promise<void>;
  /**
   * A downloaded file's temporary location as one Blob (backed by storage): its parts, as its
   * completed task records them, or the bytes of a small file kept in the database. Undefined
   * if it is gone (or the task is not a completed download).
   */
  file(sessionId: string, taskIdentifier: number): Promise<Blob | undefined>;
  /**
   * The digest of a downloaded file's temporary location, as SRI writes it (`sha256-` and its
   * base64), hashed now from storage; undefined if the file is gone.
   */
  digest(sessionId: string, taskIdentifier: number, algorithm: DigestAlgorithm): Promise<string | undefined>;
  /**
   * Moves a downloaded file's temporary location into the permanent store under `name`, with
   * what the page knows of it; false if the file is gone.
   */
  keep(sessionId: string, taskIdentifier: number, name: string, metadata: { type: string; url: string; digest: string }): Promise<boolean>;
  /**
   * Removes the session's delivered events, every one up to `seq`, from the outbox (with the
   * temporary files of their downloads, and the tasks whose last event they were).
   */
  acknowledge(sessionId: string, seq: number): Promise<void>;
  /** What this worker knows of the call made with id `call` (see `ConnectMessage`). */
  callState(call: string): Promise<CallState>;
}

/** What `session.debugState()` shows. */
export interface DebugState {
  /** The engine new transfers go to. */
  engine: EngineName;
  online: boolean;
  connection: { effectiveType?: string; saveData?: boolean; type?: string } | null;
  appVisible: boolean;
  /** Whether the browser keeps the origin's data under storage pressure (`documents.persist()`). */
  persisted: boolean;
  /** The rate limiter: a task started in the background waits until `lastWakeAt + delay`. */
  rateLimiter: { delay: number; lastWakeAt: number };
  /** Events waiting for this session's delegate, as delegate calls (a finished download's are two). */
  waitingEvents: number;
  tasks: {
    taskIdentifier: number;
    state: TaskRecord['state'];
    engine: EngineName | null;
    /** The transfer carrying the task: tasks resumed together share one. */
    transferId: string | null;
    waitingFor: string | null;
    earliestBeginDate: number | null;
    discretionary: boolean;
    countOfBytesReceived: number;
    parts: number;
    attempts: number;
    /** 0 to 1: higher starts first. */
    priority: number;
    /** When the task fails as `timedOut` if not ended (`timeoutIntervalForResource`), or null. */
    deadline: number | null;
  }[];
}

/** Name of the BroadcastChannel on which the worker tells pages that something changed. */
export const NOTICE_CHANNEL = 'bgdl';

/** A notice on `NOTICE_CHANNEL`. */
export type Notice =
  | { type: 'changed'; sessionId: string }
  | { type: 'progress'; sessionId: string; taskIdentifier: number; received: number; expected: number }
  | { type: 'sent'; sessionId: string; taskIdentifier: number; sent: number; expected: number };

/**
 * Whether a message on `NOTICE_CHANNEL` is a well-formed notice: any script of the origin may
 * post there, and a count that is not a number must not reach a task.
 */
export function isNotice(data: unknown): data is Notice {
  const notice = data as Record<string, unknown> | null;
  const count = (value: unknown, least = 0) => Number.isSafeInteger(value) && (value as number) >= least;
  if (typeof notice?.sessionId !== 'string') return false;
  const bytes = notice.type === 'progress' ? notice.received : notice.type === 'sent' ? notice.sent : -1;
  return notice.type === 'changed' || (count(bytes) && count(notice.taskIdentifier, 1) && count(notice.expected, -1));
}
