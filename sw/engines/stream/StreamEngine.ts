import { requestOf } from '../../currentRequest.js';
import { URLError } from '../../../common/errors.js';
import type { ConfigurationRecord, TaskRecord, TransactionRecord } from '../../../common/schema.js';
import { endTransaction, responded, startTransaction } from '../../metrics.js';
import { corsBlocked, refusedByCors } from '../../cors.js';
import { isQuotaError, storageFull } from '../../quota.js';
import { responseRecord } from '../../responseRecord.js';
import { deleteParts } from '../../store/parts.js';
import type { Outcome } from '../../store/outbox.js';
import { requestTimeoutMs, type Engine, type TransferSink } from '../Engine.js';
import { downloadAttempt, Retryable, statusError, type AttemptContext } from './attempt.js';
import { IdleTimeout } from './IdleTimeout.js';
import { BufferPool } from './PartReader.js';
import { notify } from '../../notify.js';

/** How long a suspend waits for the parts in flight to be stored before it gives them up. */
const STOP_TIMEOUT_MS = 10_000;

/** Why a suspend aborts a transfer whose parts in flight took too long to store (not a cancel). */
const GIVEN_UP = 'bgdl: suspend gave up the parts in flight';

/**
 * The library's own engine, for browsers without Background Fetch and for what Background
 * Fetch could not finish. The worker fetches the body in one request and stores it as it
 * arrives, in parts (`storeParts`). It resumes with `Range` + `If-Range` from the bytes kept;
 * a `200` (range ignored) or a changed validator starts the file again from zero, so two
 * versions are never spliced. Network errors, 408, 429 and 5xx are retried as the sink says.
 *
 * A suspend ends the part filling at the bytes received and lets the parts in flight commit,
 * so that the resume starts where the transfer stopped. It runs only while the worker lives:
 * every event that wakes the worker picks up the transfers that died with the last one.
 *
 * (Measured in Chromium 156: a `Range` request per part, each response handed to `cache.put`
 * as is, would keep the browser's native path, but Cache Storage refuses a `206`, and a body
 * wrapped in `new Response(response.body)` is read through JavaScript like this one.)
 */
export class StreamEngine implements Engine {
  readonly name = 'stream';
  readonly carriesMany = false;
  readonly #pool = new BufferPool();
  readonly #transfers = new Map<string, { done: Promise<void>; abort: AbortController; stop: AbortController }>();
  /** Each transfer's requests so far, told with the task's end (`Outcome.transactions`). */
  readonly #transactions = new Map<string, TransactionRecord[]>();

  constructor(private readonly sink: TransferSink) {}

  /** Whether transfers are under way. */
  get busy(): boolean {
    return this.#transfers.size > 0;
  }

  /** A promise that settles when no transfer is under way (for `waitUntil`). */
  async idle(): Promise<void> {
    while (this.#transfers.size > 0) await Promise.allSettled([...this.#transfers.values()].map((t) => t.done));
  }

  /** Runs a transfer (its turn in the run queue was given by the scheduler). */
  async start([task]: TaskRecord[], configuration: ConfigurationRecord | undefined): Promise<void> {
    const id = task!.transferId!;
    const abort = new AbortController();
    const stop = new AbortController();
    this.#transactions.set(id, []);
    const done = this.#run(task!, configuration, abort.signal, stop.signal).finally(() => {
      this.#transfers.delete(id);
      this.#transactions.delete(id);
      this.sink.release(task!);
    });
    this.#transfers.set(id, { done, abort, stop });
  }

  async isAlive(task: TaskRecord): Promise<boolean> {
    return this.#transfers.has(task.transferId!);
  }

  async cancel(task: TaskRecord): Promise<void> {
    const transfer = this.#transfers.get(task.transferId!);
    if (transfer) transfer.abort.abort();
    else await this.sink.complete(task, { error: cancelled() });
  }

  /**
   * Stops the transfer keeping every byte it received: the part filling ends there, and the
   * parts in flight are stored and recorded (or given up after `STOP_TIMEOUT_MS`). The task is
   * left running for the caller to suspend; a transfer that ended meanwhile has ended it.
   */
  async suspend(task: TaskRecord): Promise<void> {
    const transfer = this.#transfers.get(task.transferId!);
    if (!transfer) return;
    transfer.stop.abort();
    const timer = setTimeout(() => transfer.abort.abort(GIVEN_UP), STOP_TIMEOUT_MS);
    await transfer.done;
    clearTimeout(timer);
  }

  /**
   * Runs a transfer to its end, with retries. Its turn goes to the next transfer once the file
   * is stored: its completion's write then overlaps the next transfers (measured with 1,000
   * files of 16 KiB, the completions' writes were a third of each turn).
   */
  async #run(task: TaskRecord, configuration: ConfigurationRecord | undefined, signal: AbortSignal, stop: AbortSignal): Promise<void> {
    // Failures in a row before any response, with the network up (a server refusing CORS?).
    let refusals = 0;
    const transactions = this.#transactions.get(task.transferId!)!;
    // Suspended: what was kept is recorded, the rest is fetched on resume; its requests stay with the task.
    const suspended = () => this.sink.keepTransactions(task, transactions);
    for (let retry = 0; ; retry++) {
      try {
        const outcome = await this.#attempt({ task, sink: this.sink, pool: this.#pool, signal, stop, transactions }, configuration, retry > 0);
        this.sink.release(task);
        return outcome ? void (await this.#end(task, outcome)) : suspended();
      } catch (error) {
        // A cancel ends the task, even while a suspend waits for the parts in flight.
        if (signal.aborted && signal.reason !== GIVEN_UP) return void (await this.#end(task, { error: cancelled() }));
        if (stop.aborted) return suspended();
        const delay = error instanceof Retryable ? this.sink.retryDelay(configuration, retry + 1, error.retryAfter) : null;
        refusals = error instanceof Retryable && error.beforeResponse ? refusals + 1 : 0;
        // Tried once more, a request that fails so again is refused if a one-byte ask of it fails
        // too while the server answers one that asks no CORS: retries would fail the same way,
        // slowly, as a lost connection. The one-byte ask tells a server back from a restart.
        if (refusals > 0 && (refusals >= 2 || delay === null) && (await refusedByCors(requestOf(task)))) {
          return this.#fail(task, corsBlocked(requestOf(task).url));
        }
        if (delay === null) return this.#fail(task, error instanceof Retryable ? error.cause : error);
        if (!(await sleep(delay, signal, stop))) {
          return signal.aborted && signal.reason !== GIVEN_UP ? void (await this.#end(task, { error: cancelled() })) : suspended();
        }
      }
    }
  }

  /**
   * One attempt, within a connection slot to the task's host: no byte for the request timeout
   * ends it.
   */
  async #attempt(context: Omit<AttemptContext, 'idle'>, configuration: ConfigurationRecord | undefined, again: boolean): Promise<Outcome | undefined> {
    const { task, signal, transactions } = context;
    await this.sink.connect(task, configuration);
    // The wait for a connection is not a wait for data: the timeout starts once connected.
    const idle = new IdleTimeout(requestTimeoutMs(configuration));
    const from = transactions.length;
    let outcome: Outcome | undefined;
    try {
      outcome = task.kind === 'upload' ? await upload(task, signal, transactions) : await downloadAttempt({ ...context, idle, configuration }, again);
      return outcome;
    } catch (error) {
      // Uploads have no timeout for data (their body goes whole, with no progress to watch).
      if (task.kind === 'upload' || !idle.signal.aborted || signal.aborted) throw error;
      const seconds = idle.ms / 1000;
      throw new Retryable(new URLError('timedOut', `The download of ${requestOf(task).url} timed out: no data for ${seconds} s (timeoutIntervalForRequest)`));
    } finally {
      idle.clear();
      this.sink.disconnect(task);
      await this.#endTransactions(task, transactions, from, outcome).catch(() => undefined);
    }
  }

  /**
   * Ends the transactions an attempt began (from `from` on): the last brought what the task
   * kept of the file past its range's start; one before it (a range not of the file kept, asked
   * again from zero) brought nothing kept.
   */
  async #endTransactions(task: TaskRecord, transactions: TransactionRecord[], from: number, outcome: Outcome | undefined): Promise<void> {
    if (transactions.length === from) return;
    // An upload's response body is read whole: its transaction counted it.
    if (task.kind === 'upload') return void (transactions[from] = endTransaction(transactions[from]!, transactions[from]!.countOfResponseBodyBytesReceived));
    const kept = outcome && 'size' in outcome ? outcome.size : ((await this.sink.read(task))?.countOfBytesReceived ?? 0);
    for (let index = from; index < transactions.length; index++) {
      const transaction = transactions[index]!;
      const start = Number(/^bytes=(\d+)-/.exec(transaction.range ?? '')?.[1] ?? 0);
      transactions[index] = endTransaction(transaction, index === transactions.length - 1 ? kept - start : 0);
    }
  }

  /** Ends a task that failed; a file that found no room gives back what it took. */
  async #fail(task: TaskRecord, error: unknown): Promise<void> {
    const cause = isQuotaError(error) ? storageFull(requestOf(task).url, error) : error;
    const ended = await this.#end(task, { error: cause });
    if (ended && cause instanceof URLError && cause.code === 'cannotWriteToFile') await deleteParts(task.sessionId, task.taskIdentifier);
  }

  /** Ends the task with the transfer's outcome and its requests. */
  #end(task: TaskRecord, outcome: Outcome): Promise<boolean> {
    return this.sink.complete(task, { ...outcome, transactions: this.#transactions.get(task.transferId!) ?? [] });
  }
}

/** One attempt at an upload: the body is sent whole (fetch tells no upload progress). */
async function upload(task: TaskRecord, signal: AbortSignal, transactions: TransactionRecord[]): Promise<Outcome> {
  const { url, method, headers } = requestOf(task);
  const transaction = startTransaction('stream', { url, method, range: null });
  transactions.push(transaction);
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: task.body, signal, cache: 'no-store' });
    responded(transaction, response);
    transaction.countOfResponseBodyBytesReceived = (await response.arrayBuffer()).byteLength;
  } catch (error) {
    throw new Retryable(new URLError('networkConnectionLost', `The upload to ${url} failed: ${String(error)}`));
  }
  if (!response.ok) throw statusError(response, url);
  const sent = task.body?.size ?? 0;
  notify({ type: 'sent', sessionId: task.sessionId, taskIdentifier: task.taskIdentifier, sent, expected: sent });
  return { response: responseRecord(response, url), size: 0, parts: 0 };
}

function cancelled(): URLError {
  return new URLError('cancelled', 'The download was cancelled');
}

/** Waits, unless a signal aborts first; resolves to whether the time passed. */
function sleep(ms: number, ...signals: AbortSignal[]): Promise<boolean> {
  return new Promise((resolve) => {
    if (signals.some((signal) => signal.aborted)) return resolve(false);
    const timer = setTimeout(() => resolve(true), ms);
    for (const signal of signals) signal.addEventListener('abort', () => (clearTimeout(timer), resolve(false)), { once: true });
  });
}
