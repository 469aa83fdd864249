import { expect } from '@playwright/test';
import { unique, type AppPage, type FileStats } from './fixtures.js';

export const MiB = 1024 * 1024;
/** The streaming engine's part size: what a stop may cost it. */
export const PART = 8 * MiB;

/** A server that serves deterministic files and knows their SHA-256 (the test server). */
interface FileServer {
  url(path: string): string;
  sha256(seed: string, size: string | number, version?: number): Promise<string>;
}

/** A file of `mib` MiB on the test server, with its own seed and stats id; `params` adds faults. */
export function testFile(server: FileServer, mib: number, params = '') {
  const id = unique('f');
  return { id, size: mib * MiB, url: server.url(`/files/${mib}m?seed=${id}&id=${id}${params}`) };
}

/**
 * Waits for the session to finish its events and checks them: the file's bytes (SHA-256 of
 * the source), each event once, in order.
 */
export async function expectDownloaded(
  page: AppPage,
  server: FileServer,
  file: { id: string; size: number },
  taskIdentifier: number,
  { version = 1, timeout }: { version?: number; timeout?: number } = {},
): Promise<void> {
  await waitForFinishEvents(page, 1, timeout);
  expect(await completions(page)).toEqual([
    ['didFinishDownloadingTo', taskIdentifier, { sha256: await server.sha256(file.id, file.size, version), size: file.size, movedTo: null }],
    ['didCompleteWithError', taskIdentifier, null],
    ['didFinishEvents'],
  ]);
}

/** An event as the recording delegate keeps it. */
export type Recorded =
  | ['didWriteData', number, number, number, number]
  | ['didFinishDownloadingTo', number, { sha256: string; size: number; movedTo: string | null }]
  | ['didCompleteWithError', number, { name: string; code?: string; status?: number; message: string } | null]
  | ['didFinishEvents']
  // What tests that add a delegate method record.
  | ['didBecomeInvalidWithError', Error | null]
  | ['taskIsWaitingForConnectivity', number]
  /** With `answerDelayedRequests()`: the task, and the URL and Authorization of the request asked about. */
  | ['willBeginDelayedRequest', number, string, string | null]
  /** With `collectMetrics()`: the task and its metrics, dates as ms since the epoch. */
  | ['didFinishCollecting', number, CollectedMetrics];

/** A task's metrics as the recording delegate keeps them (`URLSessionTaskMetrics`, dates as numbers). */
export interface CollectedMetrics {
  taskInterval: { start: number; end: number; duration: number };
  redirectCount: number;
  transactionMetrics: {
    request: { url: string; method: string; range: string | null };
    engine: string;
    fetchStartDate: number;
    responseStartDate: number | null;
    responseEndDate: number;
    statusCode: number | null;
    redirected: boolean;
    countOfResponseBodyBytesReceived: number;
    resourceTiming: Record<string, number | string>;
  }[];
}

/** What the recording delegate's `willBeginDelayedRequest` answers; for `useNewRequest`, the URL and headers to send. */
export interface DelayedAnswer {
  /** `'never'`: the hook's promise never settles (a delegate that has not got a new token yet). */
  disposition: 'continueLoading' | 'useNewRequest' | 'cancel' | 'never';
  url?: string;
  headers?: Record<string, string>;
}

let sessionDefaults: Record<string, unknown> = {};

/** Configuration that `recordSession` gives every session of this test unless told otherwise (set by a fixture). */
export function setSessionDefaults(defaults: Record<string, unknown>): void {
  sessionDefaults = defaults;
}

/**
 * Creates, in the page, a background session whose delegate records every event in order
 * (`window.recorded`). `didFinishDownloadingTo` hashes the file and, while `setMoveTo()` has
 * named a file, keeps it under that name followed by the task identifier. While
 * `setHangOnFinish()` is on, it never settles instead (and `hasHung()` says it was entered).
 */
export async function recordSession(page: AppPage, identifier: string, options: Record<string, unknown> = {}): Promise<void> {
  const configuration = { ...sessionDefaults, ...options };
  await page.evaluate(
    ({ identifier, configuration }) => {
      const { URLSession, URLSessionConfiguration } = globalThis.bgdl;
      const recorded: Recorded[] = [];
      if (!globalThis.pageErrors) {
        globalThis.pageErrors = [];
        // What a handler threw (the library reports it): a test's failure message can say why an event is missing.
        addEventListener('error', (event) => globalThis.pageErrors.push(String(event.error?.stack ?? event.message)));
      }
      const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
      const config = Object.assign(URLSessionConfiguration.background(identifier), configuration);
      const answer = globalThis.delayedAnswer;
      const hook = answer && {
        willBeginDelayedRequest: (_s: unknown, task: { taskIdentifier: number }, request: Request) => {
          recorded.push(['willBeginDelayedRequest', task.taskIdentifier, request.url, request.headers.get('Authorization')]);
          if (answer.disposition === 'never') return new Promise<never>(() => {});
          if (answer.disposition !== 'useNewRequest') return { disposition: answer.disposition };
          return { disposition: answer.disposition, request: new Request(answer.url ?? request.url, { headers: answer.headers ?? request.headers }) };
        },
      };
      const metrics = globalThis.collectMetrics && {
        didFinishCollecting: (_s: unknown, task: { taskIdentifier: number }, metrics: unknown) => {
          const plain = JSON.parse(
            JSON.stringify(metrics, function (key, value) {
              const raw = (this as Record<string, unknown>)[key];
              return raw instanceof Date ? raw.getTime() : value;
            }),
          ) as CollectedMetrics;
          recorded.push(['didFinishCollecting', task.taskIdentifier, plain]);
        },
      };
      const session = new URLSession(config, {
        ...hook,
        ...metrics,
        didWriteData: (_s, task, written, total, expected) => {
          recorded.push(['didWriteData', task.taskIdentifier, written, total, expected]);
        },
        async didFinishDownloadingTo(_s, task, location) {
          if (globalThis.hangOnFinish) {
            globalThis.hung = task.taskIdentifier;
            await new Promise(() => {}); // a handler that never settles: the event stays unacknowledged
          }
          const sha256 = hex(await crypto.subtle.digest('SHA-256', await (await location.blob()).arrayBuffer()));
          const moveTo = globalThis.moveFilesTo;
          const movedTo = moveTo ? `${moveTo}-${task.taskIdentifier}` : null;
          if (movedTo) await location.moveTo(movedTo);
          recorded.push(['didFinishDownloadingTo', task.taskIdentifier, { sha256, size: location.size, movedTo }]);
        },
        didCompleteWithError: (_s, task, error) => {
          recorded.push([
            'didCompleteWithError',
            task.taskIdentifier,
            error && { name: error.name, code: error.code, status: error.status, message: error.message },
          ]);
        },
        didFinishEvents: () => {
          recorded.push(['didFinishEvents']);
          // As the article's app does: call the completion handler kept from the app-delegate hook.
          globalThis.completionHandlers?.[identifier]?.();
        },
      });
      Object.assign(globalThis, { session, recorded });
    },
    { identifier, configuration },
  );
}

/**
 * Gives the delegates `recordSession` makes from now on a `willBeginDelayedRequest` that
 * records each call and gives `answer` (null: they have none).
 */
export async function answerDelayedRequests(page: AppPage, answer: DelayedAnswer | null): Promise<void> {
  await page.evaluate((answer) => Object.assign(globalThis, { delayedAnswer: answer }), answer);
}

/** Gives the delegates `recordSession` makes from now on a `didFinishCollecting` that records the metrics. */
export async function collectMetrics(page: AppPage): Promise<void> {
  await page.evaluate(() => Object.assign(globalThis, { collectMetrics: true }));
}

/** Makes the recording delegate keep the next finished files as `name-<taskIdentifier>` (null: keep none). */
export async function setMoveTo(page: AppPage, name: string | null): Promise<void> {
  await page.evaluate((name) => Object.assign(globalThis, { moveFilesTo: name }), name);
}

/** Makes the recording delegate's `didFinishDownloadingTo` hang (never settle) from now on, or not. */
export async function setHangOnFinish(page: AppPage, on: boolean): Promise<void> {
  await page.evaluate((on) => Object.assign(globalThis, { hangOnFinish: on }), on);
}

/** The task whose `didFinishDownloadingTo` hangs in the page, if one does. */
export function hungTask(page: AppPage): Promise<number | undefined> {
  return page.evaluate(() => globalThis.hung);
}

/** Creates a task in the page's recorded session, resumes it, and returns its identifier. */
export function startDownload(page: AppPage, url: string): Promise<number> {
  return page.evaluate((url) => {
    const task = globalThis.session.downloadTask(url);
    task.resume();
    return task.taskIdentifier;
  }, url);
}

/** What the page's delegate has recorded so far. */
export function recorded(page: AppPage): Promise<Recorded[]> {
  return page.evaluate(() => globalThis.recorded);
}

/** The recorded events but `didWriteData`. */
export async function completions(page: AppPage): Promise<Recorded[]> {
  return (await recorded(page)).filter((event) => event[0] !== 'didWriteData');
}

/** The errors the page reported (a delegate's handler that threw, among them), for a failure's message. */
export async function pageErrors(page: AppPage): Promise<string> {
  return `errors in the page: ${JSON.stringify(await page.evaluate(() => globalThis.pageErrors ?? []))}`;
}

/** Waits until the page's delegate has recorded `didFinishEvents` `count` times. */
export async function waitForFinishEvents(page: AppPage, count = 1, timeout = 60_000): Promise<void> {
  await page.waitForFunction((count) => globalThis.recorded.filter((e) => e[0] === 'didFinishEvents').length >= count, count, { timeout });
}

/** The page's last `didWriteData` total: what the worker had received at least. */
export function lastProgress(page: AppPage): Promise<number> {
  return page.evaluate(() => Math.max(0, ...globalThis.recorded.filter((e) => e[0] === 'didWriteData').map((e) => e[3] as number)));
}

/** Where the last request of a file's log starts (`Range: bytes=N-`). */
export function resumedFrom(log: FileStats['log']): number {
  const range = log.at(-1)!.range;
  expect(range).toMatch(/^bytes=[1-9]\d*-$/);
  return Number(/\d+/.exec(range!)![0]);
}
