import { FILES_CACHE, permanentKey, type EventRecord } from '../common/schema.js';
import { badValue } from '../common/quote.js';
import { callWorker } from './connection.js';

/**
 * A finished download's temporary location, handed to `didFinishDownloadingTo`. It is
 * readable until the handler returns (or its promise settles); then it is deleted (by the
 * worker, once the event is acknowledged). A file kept
 * with `moveTo()` lives on in the permanent store (`documents`).
 */
export class DownloadLocation {
  /** The file's size in bytes. */
  readonly size: number;
  /** Its parts' keys are made only when read: many files are delivered at once. */
  readonly #event: EventRecord & { type: 'didFinishDownloadingTo' };
  readonly #type: string;
  #open = true;

  /** @internal Made by the session for each finished download, from the parts it is stored in. */
  constructor(event: EventRecord & { type: 'didFinishDownloadingTo' }, type: string) {
    this.#event = event;
    this.size = event.size;
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
    await (await caches.open(FILES_CACHE)).put(permanentKey(name), new Response(blob, { headers: { 'Content-Type': this.#type } }));
  }

  /** @internal Ends the handler's access. */
  close(): void {
    this.#open = false;
  }
}
