/**
 * The page-to-worker protocol: the calls a page makes (through Comlink, one MessageChannel
 * per call so that each call wakes a stopped worker), and the notices the worker broadcasts.
 * Both sides import this file.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { deserializeError, serializeError, type SerializedError } from './errors.js';
import type { ConfigurationRecord, EventRecord, RequestRecord, TaskRecord } from './schema.js';

/** `type` of the message that carries a call's port to the worker. */
export const CONNECT = 'bgdl:connect';

/** The message a page posts to the worker, with a `MessagePort` transferred beside it. */
export interface ConnectMessage {
  type: typeof CONNECT;
}

/** Whether a message is a well-formed connect message. */
export function isConnectMessage(data: unknown, ports: readonly MessagePort[]): boolean {
  return (
    typeof data === 'object' && data !== null && (data as ConnectMessage).type === CONNECT && ports.length === 1
  );
}

/** What a new task is made from. */
export interface TaskInit {
  taskIdentifier: number;
  request: RequestRecord;
  taskDescription: string;
  countOfBytesClientExpectsToReceive: number;
}

/**
 * A Background Fetch for the page to start: browsers let only a page start one, so the worker
 * decides what runs and under which id, and the page carries the order out.
 */
export interface FetchOrder {
  taskIdentifier: number;
  engineId: string;
  request: RequestRecord;
  /** The registration's requests when the file is fetched in byte ranges; else it is `[request]`. */
  requests?: RequestRecord[];
  /** Bytes of the file already stored before this registration's first one (its progress adds them). */
  received?: number;
  options: { title: string; downloadTotal?: number };
}

/** A session's tasks, the events waiting for its delegate, and the transfers to start. */
export interface SessionSnapshot {
  tasks: TaskRecord[];
  events: EventRecord[];
  orders: FetchOrder[];
}

/** What the worker answers. Every method validates its arguments and throws a TypeError if bad. */
export interface WorkerApi {
  /** Records the session's configuration, restarts what should run, and returns its state. */
  attach(configuration: ConfigurationRecord): Promise<SessionSnapshot>;
  /** The session's tasks and undelivered events; first starts again the transfers that died. */
  snapshot(sessionId: string): Promise<SessionSnapshot>;
  /** Stores a new task, suspended. */
  createTask(sessionId: string, init: TaskInit): Promise<TaskRecord>;
  /** Starts (or continues) a task's transfer; the snapshot holds the task and any order. */
  resume(sessionId: string, taskIdentifier: number): Promise<SessionSnapshot>;
  /** Ends a task whose order the page could not carry out. */
  fail(sessionId: string, taskIdentifier: number, engineId: string, error: SerializedError): Promise<void>;
  /** Cancels a task; it ends with a `cancelled` URLError. */
  cancel(sessionId: string, taskIdentifier: number): Promise<void>;
  /** Removes a delivered event from the outbox. */
  acknowledge(sessionId: string, seq: number): Promise<void>;
}

/** Name of the BroadcastChannel on which the worker tells pages that something changed. */
export const NOTICE_CHANNEL = 'bgdl';

/** A notice on `NOTICE_CHANNEL`. */
export type Notice =
  | { type: 'changed'; sessionId: string }
  | { type: 'progress'; sessionId: string; taskIdentifier: number; received: number; expected: number };

/**
 * Extends Comlink's `throw` handler so that `code` and `status` cross with an error and the
 * other side gets the error's own class back. Both sides call it before their first call.
 */
export function installErrorTransfer(): void {
  const comlinkThrow = transferHandlers.get('throw') as TransferHandler<{ value: unknown }, unknown>;
  if ((comlinkThrow as { bgdl?: true }).bgdl) return;
  transferHandlers.set('throw', {
    bgdl: true,
    canHandle: comlinkThrow.canHandle,
    serialize: ({ value }: { value: unknown }) => [serializeError(value), []],
    deserialize: (data: SerializedError) => {
      throw deserializeError(data);
    },
  } as TransferHandler<unknown, unknown>);
}
