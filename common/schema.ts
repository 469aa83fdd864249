/**
 * The library's memory: one IndexedDB database written by the service worker (the files
 * themselves live in Cache Storage, under the keys of `cacheKeys.ts`). Both sides import this
 * file; with `cacheKeys.ts`, it is the only place that knows how anything is stored.
 */
import type { DBSchema } from 'idb';
import type { SerializedError } from './errors.js';
import type { TaskState } from './lifecycle.js';
import type { TaskMetricsRecord, TransactionRecord } from './metrics.js';

/** Name and version of the IndexedDB database. */
export const DB_NAME = 'bgdl';
export const DB_VERSION = 8;

/** A task's state (see `lifecycle.ts`). */
export type { TaskState } from './lifecycle.js';

/** Which engine carries a task's bytes. */
export type EngineName = 'background-fetch' | 'stream';

export type { TaskMetricsRecord, TransactionRecord } from './metrics.js';

/** A request as it can be stored and posted: what `URLRequest` keeps. */
export interface RequestRecord {
  url: string;
  method: string;
  headers: [string, string][];
  /** The `Request`'s `integrity` (SRI metadata), checked against the file's bytes; absent: none. */
  integrity?: string;
}

/** The hash functions of Subresource Integrity, which the library checks files with. */
export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';

/** A download's digest so far: the hash of its first `parts` parts (`bytes` bytes), resumable. */
export interface DigestState {
  algorithm: DigestAlgorithm;
  parts: number;
  bytes: number;
  /** Who wrote each of the `parts` hashed (a part rewritten by another transfer is hashed again). */
  partsBy: string[];
  /** The hash function's state (hash-wasm's `save()`), to go on from. */
  state: Uint8Array;
}

/** The parts of a response a task keeps, with what the page's `HTTPURLResponse` shows of them. */
export interface ResponseRecord {
  url: string;
  status: number;
  statusText: string;
  /** The header pairs as JSON (pairs before version 7): one string is read faster (bench/README.md, "Delivery"). */
  headers: string;
  /** `Content-Length`, or -1 if the server did not send it. */
  expectedContentLength: number;
  /** The media type of `Content-Type`, without its parameters, or null. */
  mimeType: string | null;
}

/** The options of a session's configuration that the worker needs. */
export interface ConfigurationRecord {
  identifier: string;
  isDiscretionary: boolean;
  sessionSendsLaunchEvents: boolean;
  /** How many times a transfer is retried after a network error, 408, 429 or 5xx. */
  retryLimit: number;
  /** Seconds without a byte before a streamed transfer's attempt is given up and retried (default 60). */
  timeoutIntervalForRequest?: number;
  /** May transfers use a cellular network? (Default true.) */
  allowsExpensiveNetworkAccess?: boolean;
  /** May transfers use a network in Save-Data mode? (Default true.) */
  allowsConstrainedNetworkAccess?: boolean;
  /** How many streamed transfers may have a request open to one host at a time (default 6). */
  httpMaximumConnectionsPerHost?: number;
  /** Seconds a task may take from its first resume to its end before it fails as `timedOut` (default 7 days). */
  timeoutIntervalForResource?: number;
  /** Title shown by the browser's download UI and the launch notification. */
  title?: string;
  /** Where a click on the download UI or the launch notification brings the user (same origin). */
  launchURL?: string;
  /** An icon for the download UI and the launch notification (same origin). */
  icon?: string;
  /** Downloads stream while a page is visible, on Background Fetch otherwise (default true; false: Background Fetch alone). */
  streamsWhileVisible?: boolean;
  /** The media types a download may be (`type/subtype` or `type/*`), or absent: any. */
  expectedContentTypes?: string[];
  /** Headers added to every request of the session (a task's own headers win), or absent: none. */
  httpAdditionalHeaders?: [string, string][];
  /** The session's delegate has `willBeginDelayedRequest`: tasks ask it before they (re)start. */
  willBeginDelayedRequest?: boolean;
  /** The session's delegate has `didFinishCollecting`: a task's end carries its metrics. */
  didFinishCollecting?: boolean;
}

/**
 * Why a task asks its delegate's `willBeginDelayedRequest` before a transfer starts: its
 * `earliestBeginDate` came, its transfer was interrupted and starts again, or the server
 * refused the request (`401`, `403`: a token or a signed URL that expired).
 */
export type AskReason = 'earliestBeginDate' | 'restart' | 'unauthorized';

/** A question to the delegate, waiting for a page of the app to answer it. */
export interface DelayedRequestAsk {
  /** The answer to this ask alone is taken (several pages may answer). */
  id: string;
  reason: AskReason;
  /** When it was asked (ms since the epoch). */
  at: number;
  /** For `unauthorized`: the server's refusal, with which the task ends if no new request comes. */
  error?: SerializedError;
  /** A page answered it: the transfer starts at the next look (asking nothing). */
  answered?: boolean;
}

/** One task, as kept across page closes, worker stops and browser restarts. */
export interface TaskRecord {
  sessionId: string;
  taskIdentifier: number;
  kind: 'download' | 'upload';
  /** An upload's body (a file), kept until the upload ends. */
  body: Blob | null;
  countOfBytesSent: number;
  countOfBytesExpectedToSend: number;
  state: TaskState;
  taskDescription: string;
  originalRequest: RequestRecord;
  /** The request the delegate gave in place of the original (`useNewRequest`), or absent. */
  newRequest?: RequestRecord | null;
  /**
   * What the transfer in flight sends (`currentRequest.ts`): the new or original request with
   * the session's additional headers as the transfer started. Absent where it is that request as
   * it is (`requestOf`), and in tasks stored before it.
   */
  currentRequest?: RequestRecord;
  response: ResponseRecord | null;
  error: SerializedError | null;
  countOfBytesReceived: number;
  /** -1 while unknown, as `NSURLSessionTransferSizeUnknown`. */
  countOfBytesExpectedToReceive: number;
  countOfBytesClientExpectsToReceive: number;
  /** An upload's upper bound (0: none; absent in tasks stored before it existed). */
  countOfBytesClientExpectsToSend?: number;
  /** The transfer does not start before this time (ms since the epoch), or null. */
  earliestBeginDate: number | null;
  /** 0 (lowest) to 1 (highest); 0.5 by default. Higher starts first. */
  priority: number;
  /** When last resumed (ms since the epoch, a fraction orders those of one ms): equal priorities start in this order; 0: never. */
  resumedAt?: number;
  /** When the task fails as `timedOut` if not ended (`timeoutIntervalForResource` after its first resume); null before it. */
  deadline?: number | null;
  /** Waits for good conditions: the session is discretionary, or no page was visible at resume. */
  discretionary: boolean;
  /** Why the task waits to start (its conditions, an answer of its delegate), or null. */
  waitingFor: string | null;
  /** The delegate's `willBeginDelayedRequest` is asked (the transfer waits for its answer), or absent. */
  ask?: DelayedRequestAsk | null;
  engine: EngineName | null;
  /**
   * The transfer in flight that owns the task (also its Background Fetch registration id), or
   * null. A fence: only this transfer may record progress in the task or end it.
   */
  transferId: string | null;
  /** How many times in a row the transfer was started without receiving a byte more. */
  attempts: number;
  /** `countOfBytesReceived` when the transfer in flight was started. */
  receivedAtStart: number;
  /**
   * Background Fetch: the task's ranges, from `receivedAtStart`, are of lengths all different
   * (`distinctRanges`), as for a file whose `Content-Range` CORS hides.
   */
  distinctRanges?: boolean;
  /**
   * How many parts of the body are stored (`partKeys(task)`), in order from byte 0;
   * their bytes are `countOfBytesReceived`. Parts vary in size, up to `PART_SIZE`.
   */
  parts: number;
  /**
   * The transfer that wrote each part, whose id its key carries, so that two transfers of one
   * task never write under one key: a replaced transfer still running writes where no record
   * points. `''` (or absent, in tasks stored before version 5): a key without a transfer.
   */
  partsBy?: string[];
  /** What `If-Range` sends to resume: the response's strong ETag, else its Last-Modified. */
  validator: string | null;
  /** The requests of the task's transfers so far (`TransactionRecord`), for its metrics; the last 100. */
  transactions?: TransactionRecord[];
  /** The hash of the parts stored so far (see `DigestState`), or absent. */
  digest?: DigestState | null;
  /** A small file's place in the `packs` store, once downloaded (absent: in `bodies`, before version 8). */
  inPack?: PackPlace;
  /** The folder `moveTo` moves the file's parts to (see `keptKey`), once a move has begun. */
  keptIn?: string;
  /** The name the file was kept under, once moved. */
  keptAs?: string;
  /** When the transfer in flight was handed to its engine (ms since the epoch). */
  startedAt: number;
  createdAt: number;
}

/**
 * A downloaded file's temporary location: its `parts`, at `temporaryKey(sessionId,
 * taskIdentifier, index)`; with no parts, a small file's bytes in a pack (`inPack`), or in the
 * `bodies` store (written before version 8).
 */
export interface DownloadedFile {
  size: number;
  parts: number;
  partsBy?: string[];
  digest?: string;
  inPack?: PackPlace;
}

/** Where a small file's bytes are in the `packs` store: which pack, from which byte. */
export interface PackPlace {
  pack: number;
  offset: number;
}

/**
 * What happened to a task, queued in the outbox until a page's delegate has seen it. A
 * download's completion carries its file (`download`): the delegate gets `didFinishDownloadingTo`
 * and then `didCompleteWithError` from one record, a write and a delete less per file. An outbox
 * written by an earlier release of the library may hold a `didFinishDownloadingTo` record of its own.
 */
export type TaskEvent =
  | ({ type: 'didFinishDownloadingTo'; taskIdentifier: number } & DownloadedFile)
  | { type: 'didCompleteWithError'; taskIdentifier: number; error: SerializedError | null; metrics?: TaskMetricsRecord; download?: DownloadedFile };

/** The file an event hands to `didFinishDownloadingTo`, if it hands one. */
export function downloadOf(event: TaskEvent): DownloadedFile | undefined {
  return event.type === 'didFinishDownloadingTo' ? event : event.download;
}

/** An outbox row: `seq` orders every event of every session. */
export type EventRecord = TaskEvent & { seq: number; sessionId: string };

/** The rate limiter's state: the delay, and when the app was last woken in the background. */
export interface RateLimiterState {
  delay: number;
  lastWakeAt: number;
}

/** The database schema (idb's typed form). */
export interface Schema extends DBSchema {
  sessions: { key: string; value: ConfigurationRecord };
  tasks: {
    key: [string, number];
    value: TaskRecord;
    indexes: { bySession: string; byTransfer: string };
  };
  events: {
    key: number;
    value: EventRecord;
    /** `byPack` (since version 8): the events whose file is in a pack, by pack. */
    indexes: { bySession: string; byPack: number };
  };
  /** Since version 2: state of the whole app, by name; `'written'`: a mark each write of tasks or events renews (sw/store/readAhead.ts). */
  app: { key: 'rateLimiter' | 'written'; value: RateLimiterState | number };
  /**
   * From version 4 to 7: the bytes of a small downloaded file, written with its completion and
   * deleted with its delivered event (`SMALL_FILE_SIZE`). Read and deleted still, not written.
   */
  bodies: { key: [string, number]; value: ArrayBuffer };
  /**
   * Since version 8: the bytes of the small files one batched write completed, one after
   * another (a Blob above 64 KiB), deleted once no event points to them (`sw/store/packs.ts`).
   */
  packs: { key: number; value: Blob | ArrayBuffer };
  /**
   * Since version 6: by session, the highest event `seq` the worker has handed out to pages;
   * an acknowledge deletes no event above it (a page cannot acknowledge what it never got).
   */
  handedOut: { key: string; value: number };
}

/**
 * A downloaded file this small is kept in the database with its completion rather than in
 * Cache Storage: measured in Chromium with 1,000 files of 16 KiB, a `cache.put` and its
 * `cache.delete` cost the browser about 1.8 ms of CPU per file, a batched database write of
 * the bytes about 0.3 ms. (Chromium keeps a value up to 64 KiB in the database itself.)
 */
export const SMALL_FILE_SIZE = 64 * 1024;

/** What resume data holds: where the bytes kept are, and what they are a prefix of. */
export interface ResumeDataRecord {
  format: 'bgdl-resume-data/1';
  origin: string;
  token: string;
  request: RequestRecord;
  /** As the version that made the data kept it (`upgradeResponse` reads any). */
  response: ResponseRecord | null;
  validator: string;
  parts: number;
  /** The bytes in the parts (absent from data made when every part but the last was `PART_SIZE`). */
  countOfBytesReceived?: number;
  countOfBytesExpectedToReceive: number;
}
