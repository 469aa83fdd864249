import type { TaskInit } from '../common/protocol.js';
import type { ConfigurationRecord, DigestAlgorithm, RequestRecord } from '../common/schema.js';
import { parseIntegrity } from './sri.js';
import { quote } from '../common/quote.js';

export { quote };

/** A session identifier: a non-empty string of at most 256 characters. */
export function sessionId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new TypeError(`A session identifier must be a non-empty string of at most 256 characters, not ${quote(value)}`);
  }
  return value;
}

/** A task identifier: a positive safe integer. */
export function taskIdentifier(value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) <= 0) {
    throw new TypeError(`A task identifier must be a positive integer, not ${quote(value)}`);
  }
  return value as number;
}

/** A hash a file's digest can be asked in, as SRI names it. */
export function digestAlgorithm(value: unknown): DigestAlgorithm {
  if (value !== 'sha256' && value !== 'sha384' && value !== 'sha512') {
    throw new TypeError(`A digest algorithm must be 'sha256', 'sha384' or 'sha512', not ${quote(value)}`);
  }
  return value;
}

/** A name to keep a file under, with what the page knows of the file (see `keep`). */
export function keptFile(name: unknown, metadata: unknown): { name: string; metadata: { type: string; url: string; digest: string } } {
  if (typeof name !== 'string' || name.length === 0 || name.length > 1024)
    throw new TypeError(`A file name must be a non-empty string of at most 1024 characters, not ${quote(name)}`);
  const { type, url, digest } = (metadata ?? {}) as Record<string, unknown>;
  for (const [field, value] of Object.entries({ type, url, digest })) {
    // Header values: a character that a header cannot carry would fail the store's write.
    if (typeof value !== 'string' || value.length > 8192 || /[^\t\x20-\x7e\x80-\xff]/.test(value))
      throw new TypeError(`A kept file's ${field} must be a header value, not ${quote(value)}`);
  }
  return { name, metadata: { type: type as string, url: url as string, digest: digest as string } };
}

/** An absolute `http:` or `https:` URL, the only kind Apple's background sessions allow. */
export function httpURL(value: unknown): string {
  let url: URL | undefined;
  try {
    url = new URL(value as string);
  } catch {
    // reported below
  }
  if (typeof value !== 'string' || !url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`Only http: and https: URLs can be downloaded, not ${quote(value)}`);
  }
  return url.href;
}

/** A request as a page sends it. */
export function request(value: unknown): RequestRecord {
  const { url, method, headers, integrity } = (value ?? {}) as Partial<RequestRecord>;
  if (typeof method !== 'string' || !/^[A-Za-z]+$/.test(method)) throw new TypeError(`Bad request method ${quote(method)}`);
  if (!isHeaderPairs(headers)) throw new TypeError(`Request headers must be [name, value] string pairs, not ${quote(headers)}`);
  if (integrity === undefined || integrity === '') return { url: httpURL(url), method: method.toUpperCase(), headers };
  if (typeof integrity !== 'string' || !parseIntegrity(integrity)) {
    throw new TypeError(`integrity must name a sha256, sha384 or sha512 digest (as "sha256-BASE64"), not ${quote(integrity)}`);
  }
  return { url: httpURL(url), method: method.toUpperCase(), headers, integrity };
}

/** Whether a value is a list of `[name, value]` string pairs. */
function isHeaderPairs(value: unknown): value is [string, string][] {
  return Array.isArray(value) && value.every((h) => Array.isArray(h) && h.length === 2 && h.every((s) => typeof s === 'string'));
}

/**
 * A session's additional headers: `[name, value]` pairs, none of `Range` and `If-Range`, which
 * the engines set to resume (a session-wide one would splice every file from one offset).
 */
function additionalHeaders(value: unknown): [string, string][] {
  const ranged = isHeaderPairs(value) && value.find(([name]) => /^(if-)?range$/i.test(name.trim()));
  if (!isHeaderPairs(value) || ranged) {
    throw new TypeError(`httpAdditionalHeaders must be headers other than Range and If-Range, not ${quote(ranged || value)}`);
  }
  return value;
}

/** A new task's description, as a page sends it. */
export function taskInit(value: unknown): TaskInit {
  const init = (value ?? {}) as Partial<TaskInit>;
  const expected = init.countOfBytesClientExpectsToReceive;
  if (typeof expected !== 'number' || !(expected >= 0)) {
    throw new TypeError(`countOfBytesClientExpectsToReceive must be a number >= 0, not ${quote(expected)}`);
  }
  const toSend = init.countOfBytesClientExpectsToSend;
  if (typeof toSend !== 'number' || !(toSend >= 0)) {
    throw new TypeError(`countOfBytesClientExpectsToSend must be a number >= 0, not ${quote(toSend)}`);
  }
  if (typeof init.taskDescription !== 'string') {
    throw new TypeError(`taskDescription must be a string, not ${quote(init.taskDescription)}`);
  }
  const begin = init.earliestBeginDate;
  if (begin !== null && (typeof begin !== 'number' || !Number.isFinite(begin))) {
    throw new TypeError(`earliestBeginDate must be a time in ms or null, not ${quote(begin)}`);
  }
  const priority = init.priority;
  if (typeof priority !== 'number' || !(priority >= 0 && priority <= 1)) {
    throw new TypeError(`priority must be a number from 0 to 1, not ${quote(priority)}`);
  }
  if (init.body !== null && !(init.body instanceof Blob)) {
    throw new TypeError(`An upload's body must be a Blob or File, not ${quote(init.body)}`);
  }
  if (init.resumeData !== null && typeof init.resumeData !== 'string') {
    throw new TypeError(`resumeData must be a string or null, not ${quote(init.resumeData)}`);
  }
  return {
    taskIdentifier: taskIdentifier(init.taskIdentifier),
    request: request(init.request),
    taskDescription: init.taskDescription,
    countOfBytesClientExpectsToReceive: expected,
    countOfBytesClientExpectsToSend: toSend,
    earliestBeginDate: begin ?? null,
    priority,
    resumeData: init.resumeData ?? null,
    body: init.body ?? null,
  };
}

/** A media type or range as `expectedContentTypes` takes it: `type/subtype` or `type/*`. */
const MEDIA_RANGE = /^[\w!#$&^.+-]+\/(\*|[\w!#$&^.+-]+)$/;

/** A session's configuration, as a page sends it. */
export function configuration(value: unknown): ConfigurationRecord {
  const config = (value ?? {}) as Partial<ConfigurationRecord>;
  for (const key of ['isDiscretionary', 'sessionSendsLaunchEvents'] as const) {
    if (typeof config[key] !== 'boolean') throw new TypeError(`${key} must be a boolean, not ${quote(config[key])}`);
  }
  for (const key of [
    'allowsExpensiveNetworkAccess',
    'allowsConstrainedNetworkAccess',
    'streamsWhileVisible',
    'willBeginDelayedRequest',
    'didFinishCollecting',
  ] as const) {
    if (config[key] !== undefined && typeof config[key] !== 'boolean') throw new TypeError(`${key} must be a boolean, not ${quote(config[key])}`);
  }
  if (!Number.isSafeInteger(config.retryLimit) || config.retryLimit! < 0) {
    throw new TypeError(`retryLimit must be an integer >= 0, not ${quote(config.retryLimit)}`);
  }
  const timeout = config.timeoutIntervalForRequest;
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0 && timeout <= 2 ** 31 / 1000)) {
    throw new TypeError(`timeoutIntervalForRequest must be a number of seconds > 0, not ${quote(timeout)}`);
  }
  const perHost = config.httpMaximumConnectionsPerHost;
  if (perHost !== undefined && !(Number.isSafeInteger(perHost) && perHost >= 1)) {
    throw new TypeError(`httpMaximumConnectionsPerHost must be an integer >= 1, not ${quote(perHost)}`);
  }
  const resource = config.timeoutIntervalForResource;
  if (resource !== undefined && !(typeof resource === 'number' && resource > 0 && Number.isFinite(resource))) {
    throw new TypeError(`timeoutIntervalForResource must be a number of seconds > 0, not ${quote(resource)}`);
  }
  if (config.title !== undefined && typeof config.title !== 'string') {
    throw new TypeError(`title must be a string, not ${quote(config.title)}`);
  }
  const types = config.expectedContentTypes ?? undefined;
  if (types !== undefined && !(Array.isArray(types) && types.every((type) => typeof type === 'string' && MEDIA_RANGE.test(type)))) {
    throw new TypeError(`expectedContentTypes must be a list of media types (type/subtype or type/*), not ${quote(types)}`);
  }
  const extra = config.httpAdditionalHeaders === undefined ? undefined : additionalHeaders(config.httpAdditionalHeaders);
  for (const key of ['launchURL', 'icon'] as const) {
    const value = config[key];
    if (value !== undefined && (typeof value !== 'string' || new URL(value, location.href).origin !== location.origin)) {
      throw new TypeError(`${key} must be a URL of this origin, not ${quote(value)}`);
    }
  }
  return {
    identifier: sessionId(config.identifier),
    isDiscretionary: config.isDiscretionary!,
    sessionSendsLaunchEvents: config.sessionSendsLaunchEvents!,
    retryLimit: config.retryLimit!,
    ...(timeout === undefined ? {} : { timeoutIntervalForRequest: timeout }),
    ...(perHost === undefined ? {} : { httpMaximumConnectionsPerHost: perHost }),
    ...(resource === undefined ? {} : { timeoutIntervalForResource: resource }),
    allowsExpensiveNetworkAccess: config.allowsExpensiveNetworkAccess ?? true,
    allowsConstrainedNetworkAccess: config.allowsConstrainedNetworkAccess ?? true,
    streamsWhileVisible: config.streamsWhileVisible ?? true,
    ...(types === undefined ? {} : { expectedContentTypes: types.map((type) => type.toLowerCase()) }),
    ...(extra === undefined || extra.length === 0 ? {} : { httpAdditionalHeaders: extra }),
    ...(config.willBeginDelayedRequest ? { willBeginDelayedRequest: true } : {}),
    ...(config.didFinishCollecting ? { didFinishCollecting: true } : {}),
    ...(config.title === undefined ? {} : { title: config.title }),
    ...(config.launchURL === undefined ? {} : { launchURL: new URL(config.launchURL, location.href).href }),
    ...(config.icon === undefined ? {} : { icon: new URL(config.icon, location.href).href }),
  };
}
