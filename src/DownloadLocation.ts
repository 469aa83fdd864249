import { FILES_CACHE, permanentKey, type EventRecord } from '../common/schema.js';
import { badValue } from '../common/quote.js';
import { callWorker } from './connection.js';
import { DIGEST, KEPT_AT, SOURCE } from './documents.js';

/**
 * A finished download's temporary location, handed to `didFinishDownloadingTo`. It is
 * readable until the handler returns (or its promise settles); then it is deleted (by the
 * worker, once the event is acknowledged). A file kept
 * with `moveTo()` lives on in the permanent store (`documents`).
 */
export class DownloadLocation {
  /** The file's size in bytes. */
  readonly size: number;
  /**
   * The file's digest as Subresource Integrity writes it (`sha512-` and its base64), of the
   * hash its request's `integrity` named, which the bytes were checked against; `''` for a
   * request without `integrity` (not hashed).
   */
  readonly digest: string;
  /** The URL the file came from (after redirects), kept with it by `moveTo`. */
  readonly #url: string;
  /** Its parts' keys are made only when read: many files are delivered at once. */
  readonly #event: EventRecord & { type: 'didFinishDownloadingTo' };
  readonly #type: string;
  #open = true;

  /** @internal Made by the session for each finished download, from the parts it is stored in. */
  constructor(event: EventRecord & { type: 'didFinishDownloadingTo' }, type: string, url: string) {
    this.#url = url;
    this.#event = event;
    this.size = event.size;
    this.digest = event.digest ?? '';
    this.#type = type;
  }

  /** The file's bytes as a Blob (backed by storage, not memory). */
  async blob(): Promise<Blob> {
    if (!this.#open) throw new DOMException('Readable only until didFinishDownloadingTo settles', 'InvalidStateError');
    const { sessionId, taskIdentifier } = this.#event;
    const file = await callWorker('file', sessionId, taskIdentifier);
    if (!file) throw new DOMException('The downloaded file is gone from storage', 'NotFoundError');
    return file.slice(0, file.size, this.#type);
  }

  /** The file as a `Response`. */
  async response(): Promise<Response> {
    return new Response(await this.blob());
  }

  /** The file's bytes as a stream. */
  async stream(): Promise<ReadableStream<Uint8Array>> {
    return (await this.blob()).stream();
  }

  /**
   * Keeps the file in the permanent store under `name`, replacing a file of that name.
   * It is then listed and read with `documents`.
   */
  async moveTo(name: string): Promise<void> {
    if (typeof name !== 'string' || name.length === 0) throw badValue('moveTo() needs a non-empty file name', name);
    const blob = await this.blob();
    const headers = {
      'Content-Type': this.#type,
      'Content-Length': String(blob.size),
      [KEPT_AT]: String(Date.now()),
      [SOURCE]: this.#url,
      [DIGEST]: this.digest,
    };
    await (await caches.open(FILES_CACHE)).put(permanentKey(name), new Response(blob, { headers }));
  }

  /** @internal Ends the handler's access. */
  close(): void {
    this.#open = false;
  }
}
