import type { ConfigurationRecord } from '../common/schema.js';
import { quote } from '../common/quote.js';

/** A session's configuration, as `URLSessionConfiguration`. */
export class URLSessionConfiguration {
  /** The session identifier: the same one re-attaches a session's tasks after a reload. */
  readonly identifier: string;
  /** Let the transfers wait for good conditions. Default: false. */
  isDiscretionary = false;
  /** Bring the user back to the app when tasks end with no page open. Default: true. */
  sessionSendsLaunchEvents = true;
  /** How many times a transfer is retried after a network error, 408, 429 or 5xx (with backoff). Default: 5. */
  retryLimit = 5;
  /** The title the browser's download UI shows. Default: the task's description or file name. */
  title: string | undefined = undefined;

  private constructor(identifier: string) {
    this.identifier = identifier;
  }

  /**
   * A background configuration: its tasks run in the service worker and survive the page.
   * @param identifier unique within the app; a fixed string is usual.
   */
  static background(identifier: string): URLSessionConfiguration {
    if (typeof identifier !== 'string' || identifier.length === 0 || identifier.length > 256) {
      throw new TypeError(`URLSessionConfiguration.background() needs a non-empty identifier of at most 256 characters, not ${quote(identifier)}`);
    }
    return new URLSessionConfiguration(identifier);
  }

  /** @internal The form the worker keeps. */
  toRecord(): ConfigurationRecord {
    const { identifier, isDiscretionary, sessionSendsLaunchEvents, retryLimit, title } = this;
    return { identifier, isDiscretionary, sessionSendsLaunchEvents, retryLimit, ...(title === undefined ? {} : { title }) };
  }
}
