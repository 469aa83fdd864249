import type { ConfigurationRecord } from '../common/schema.js';
import { badValue } from '../common/quote.js';

/** A session's configuration, as `URLSessionConfiguration`. */
export class URLSessionConfiguration {
  /** The session identifier: the same one re-attaches a session's tasks after a reload. */
  readonly identifier: string;
  /**
   * Let the transfers wait for good conditions: online, no Save-Data, not a 2G-class
   * connection. Default: false (a task resumed while no page of the app is visible is
   * discretionary all the same).
   */
  isDiscretionary = false;
  /** May transfers use a cellular network (where the browser tells)? Default: true. */
  allowsExpensiveNetworkAccess = true;
  /** May transfers use a network in Save-Data mode? Default: true. */
  allowsConstrainedNetworkAccess = true;
  /** Bring the user back to the app when tasks end with no page open. Default: true. */
  sessionSendsLaunchEvents = true;
  /** How many times a transfer is retried after a network error, 408, 429 or 5xx (with backoff). Default: 5. */
  retryLimit = 5;
  /** Seconds a transfer may wait for more data before the attempt is retried (then fails as `timedOut`). Default: 60. */
  timeoutIntervalForRequest = 60;
  /** How many streamed transfers may have a request open to one host at a time. Default: 6. */
  httpMaximumConnectionsPerHost = 6;
  /** Seconds a task may take, from its first `resume()`, before it fails as `timedOut` (even across restarts). Default: 7 days. */
  timeoutIntervalForResource = 7 * 24 * 60 * 60;
  /**
   * Where the browser has Background Fetch: downloads stream while a page of the app is
   * visible (faster, exact, pausable) and are handed to Background Fetch when the last one
   * goes away, then taken back when one is visible again. False keeps the session on
   * Background Fetch alone. Default: true. (Other browsers always stream.)
   */
  streamsWhileVisible = true;
  /**
   * The media types a download may be, as `'video/mp4'` or `'video/*'`: a response of another
   * `Content-Type` (a `text/html` error page answered 200 for model weights) ends the task with
   * a `badServerResponse` URLError, and nothing is kept. A response with no `Content-Type`
   * passes. Default: null, any type.
   */
  expectedContentTypes: string[] | null = null;
  /**
   * Headers added to every request of the session, as `{ Authorization: 'Bearer …' }` or a
   * `Headers`: a task's own headers of the same name win. They are kept with the session;
   * creating it again with the same identifier and other values changes them for the transfers
   * that start after (a resumed, retried or restarted transfer included). `Range` and
   * `If-Range` are the library's own. Default: null, none.
   */
  httpAdditionalHeaders: HeadersInit | null = null;
  /** The title of the browser's download UI and of the launch notification. */
  title: string | undefined;
  /** Where a click on the download UI or the launch notification brings the user. Default: the worker's scope. */
  launchURL: string | undefined;
  /** An icon for the download UI and the launch notification. */
  icon: string | undefined;

  private constructor(identifier: string) {
    this.identifier = identifier;
  }

  /**
   * A background configuration: its tasks run in the service worker and survive the page.
   * @param identifier unique within the app; a fixed string is usual.
   */
  static background(identifier: string): URLSessionConfiguration {
    if (typeof identifier !== 'string' || identifier.length === 0 || identifier.length > 256) {
      throw badValue('URLSessionConfiguration.background() needs an identifier of 1 to 256 characters', identifier);
    }
    return new URLSessionConfiguration(identifier);
  }

  /** @internal The form the worker keeps. */
  toRecord(): ConfigurationRecord {
    // Every field is the worker's (it checks them); URLs are resolved against the page.
    const url = (value: string | undefined) => (value === undefined ? value : new URL(value, location.href).href);
    return {
      ...this,
      launchURL: url(this.launchURL),
      icon: url(this.icon),
      expectedContentTypes: this.expectedContentTypes ?? undefined,
      httpAdditionalHeaders: headerPairs(this.httpAdditionalHeaders),
    };
  }
}

/** Headers as the pairs the worker keeps; a bad name or value throws a TypeError quoting it. */
function headerPairs(headers: HeadersInit | null): [string, string][] | undefined {
  if (headers === null || headers === undefined) return undefined;
  try {
    return [...new Headers(headers)];
  } catch (error) {
    throw badValue(`httpAdditionalHeaders must be headers (${(error as Error).message})`, headers);
  }
}
