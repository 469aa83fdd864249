/**
 * The globals of the pages the end-to-end tests drive, so that code given to `page.evaluate`
 * (which runs in the page) typechecks: `page.evaluate(() => globalThis.session.ready)`.
 * They exist only in the page, never in the test's Node process.
 */
import type * as Library from '../src/index.js';
import type { URLSession } from '../src/index.js';
import type { DelayedAnswer, Recorded } from './recorder.js';

/** What the demo page exposes as `globalThis.bgdl` (demo/main.ts): the library, the demo's sessions and `help()`. */
export type DemoGlobal = typeof Library & {
  /** The demo's session "demo". */
  session: URLSession;
  /** The demo's two sessions, by identifier. */
  sessions: Record<string, URLSession>;
  /** Prints what can be typed in the console. */
  help(): void;
};

declare global {
  /**
   * The library in the page. The demo exposes all of it (`DemoGlobal`); a test app
   * (`APP_HARNESS_JS` in e2e/apps.ts) the library's exports, without the demo's sessions and `help()`.
   */
  var bgdl: DemoGlobal;

  /** In a test app's page (e2e/apps.ts): the errors it showed, uncaught or logged. */
  var appErrors: string[];

  // What e2e/recorder.ts keeps in the page.
  /** The session `recordSession()` created last. */
  var session: URLSession;
  /** Every event its delegate received, in order. */
  var recorded: Recorded[];
  /** The errors reported in the page since the first `recordSession()` (a handler that threw, among them). */
  var pageErrors: string[];
  /** While true, `didFinishDownloadingTo` never settles (`setHangOnFinish()`). */
  var hangOnFinish: boolean | undefined;
  /** The task whose `didFinishDownloadingTo` hangs. */
  var hung: number | undefined;
  /** The name finished files are kept under, followed by the task identifier (`setMoveTo()`). */
  var moveFilesTo: string | null | undefined;
  /** What the next recorded sessions' `willBeginDelayedRequest` answers (`answerDelayedRequests()`); null or undefined: they have none. */
  var delayedAnswer: DelayedAnswer | null | undefined;
  /** The next recorded sessions' delegates record `didFinishCollecting` (`collectMetrics()`). */
  var collectMetrics: boolean | undefined;
  /** The completion handlers from `handleEventsForBackgroundURLSession`, by session identifier. */
  var completionHandlers: Record<string, () => void> | undefined;

  // What single tests keep in the page.
  /** tasks.spec.ts: kept for a session's `didBecomeInvalidWithError`. */
  var invalidated: unknown[];
  /** uploads.spec.ts: the `didSendBodyData` calls, `[bytesSent, totalBytesSent, totalBytesExpectedToSend]`. */
  var sent: number[][];
  /** batching.spec.ts: the calls of `BackgroundFetchManager.prototype.fetch`, and the requests they asked. */
  var fetchCounts: { registrations: number; requests: number };
  /** The Background Fetch API (Chromium only). */
  var BackgroundFetchManager: { prototype: BackgroundFetchManager } | undefined;
}
