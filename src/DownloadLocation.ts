import { FILES_CACHE, permanentKey } from '../common/schema.js';
import { quote } from '../common/quote.js';

/**
 * A finished download's temporary location, handed to `didFinishDownloadingTo`. It is
 * readable until the handler returns (or its promise settles); then it is deleted, unless
 * `moveTo()` kept it in the permanent store (`documents`).
 */
export class DownloadLocation {
  /** The file's size in bytes. */
  readonly size: number;
  readonly #key: string;
  #open = true;

  /** @internal Made by the session for each finished download. */
  constructor(key: string, size: number) {
    this.#key = key;
    this.size = size;
  }

  /** The file as a `Response` (its body streams from storage). */
  async response(): Promise<Response> {
    if (!this.#open) {
      throw new DOMException('A download location is readable only until didFinishDownloadingTo settles', 'InvalidStateError');
    }
    const response = await (await caches.open(FILES_CACHE)).match(this.#key);
    if (!response) throw new DOMException(`The downloaded file is gone from storage (${this.#key})`, 'NotFoundError');
    return response;
  }

  /** The file's bytes as a Blob. */
  async blob(): Promise<Blob> {
    return (await this.response()).blob();
  }

  /** The file's bytes as a stream. */
  async stream(): Promise<ReadableStream<Uint8Array>> {
    return (await this.response()).body!;
  }

  /**
   * Keeps the file in the permanent store under `name`, replacing a file of that name.
   * It is then listed and read with `documents`.
   */
  async moveTo(name: string): Promise<void> {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`moveTo() needs a non-empty file name, not ${quote(name)}`);
    }
    const response = await this.response();
    await (await caches.open(FILES_CACHE)).put(permanentKey(name), response);
  }

  /** @internal Ends the handler's access. */
  close(): void {
    this.#open = false;
  }

  /** @internal Deletes the temporary file (a moved file lives on under its new name). */
  async delete(): Promise<void> {
    await (await caches.open(FILES_CACHE)).delete(this.#key);
  }
}
