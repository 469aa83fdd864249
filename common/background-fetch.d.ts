/**
 * Background Fetch (https://wicg.github.io/background-fetch/) is in no standard TypeScript
 * `lib`; these are the parts the library uses, for the page and the worker alike.
 */
interface BackgroundFetchUIOptions {
  title?: string;
  icons?: { src: string; sizes?: string; type?: string; label?: string }[];
}

interface BackgroundFetchOptions extends BackgroundFetchUIOptions {
  downloadTotal?: number;
}

type BackgroundFetchResult = '' | 'success' | 'failure';
type BackgroundFetchFailureReason = '' | 'aborted' | 'bad-status' | 'fetch-error' | 'quota-exceeded' | 'download-total-exceeded';

interface BackgroundFetchRecord {
  readonly request: Request;
  readonly responseReady: Promise<Response>;
}

interface BackgroundFetchRegistration extends EventTarget {
  readonly id: string;
  readonly uploadTotal: number;
  readonly uploaded: number;
  readonly downloadTotal: number;
  readonly downloaded: number;
  readonly result: BackgroundFetchResult;
  readonly failureReason: BackgroundFetchFailureReason;
  readonly recordsAvailable: boolean;
  abort(): Promise<boolean>;
  match(request: RequestInfo): Promise<BackgroundFetchRecord | undefined>;
  matchAll(request?: RequestInfo): Promise<BackgroundFetchRecord[]>;
}

interface BackgroundFetchManager {
  fetch(id: string, requests: RequestInfo | RequestInfo[], options?: BackgroundFetchOptions): Promise<BackgroundFetchRegistration>;
  get(id: string): Promise<BackgroundFetchRegistration | undefined>;
  getIds(): Promise<string[]>;
}

interface ServiceWorkerRegistration {
  /** Absent where the browser has no Background Fetch. */
  readonly backgroundFetch?: BackgroundFetchManager;
}
