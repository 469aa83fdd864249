import type { DigestAlgorithm, DownloadedFile, EventRecord } from '../common/schema.js';
import { badValue } from '../common/quote.js';
import type { WorkerApi } from '../common/protocol.js';
import { callWorker } from './callWorker.js';

/** A method's arguments after the session's identifier and the task's. */
type Rest<M extends keyof WorkerApi> = Parameters<WorkerApi[M]> extends [string, number, ...infer R] ? R : never;

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
  /** The event that brought the file: its session and task name the file to the worker. */
  readonly #event: EventRecord;
  readonly #type: string;
  /** The digest known of the file: `digest`, or the last `digestFor` asked. */
  #known: string;
  #open = true;

  /** @internal Made by the session for each finished download, from the parts it is stored in. */
  constructor(event: EventRecord, file: DownloadedFile, type: string, url: string) {
    this.#url = url;
    this.#event = event;
    this.size = file.size;
    this.digest = this.#known = file.digest ?? '';
    this.#type = type;
  }

  /** The file's bytes as a Blob (backed by storage, not memory). */
  async blob(): Promise<Blob> {
    const file = await this.#ask('file');
    return file.slice(0, file.size, this.#type);
  }

  /**
   * The file's digest in `algorithm`, as `digest` writes it. Only files whose request has
   * `integrity` are hashed as they arrive (hashing every body halved the streaming engine's
   * pace); any other is hashed from storage when this is asked. `moveTo` keeps it with the file.
   */
  async digestFor(algorithm: DigestAlgorithm = 'sha256'): Promise<string> {
    if (algorithm !== 'sha256' && algorithm !== 'sha384' && algorithm !== 'sha512')
      throw badValue("digestFor() takes 'sha256', 'sha384' or 'sha512'", algorithm);
    if (this.#known.startsWith(`${algorithm}-`)) return this.#known;
    return (this.#known = await this.#ask('digest', algorithm));
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
   * Keeps the file in the permanent store under `name`, replacing a file of that name; it is
   * then listed and read with `documents`. A move, part by part: it needs at most a part of
   * room more, not the file's size twice. A second name gets a copy.
   */
  async moveTo(name: string): Promise<void> {
    if (typeof name !== 'string' || name.length === 0) throw badValue('moveTo() needs a non-empty file name', name);
    await this.#ask('keep', name, { type: this.#type, url: this.#url, digest: this.#known });
  }

  /** While the file is readable, asks the worker `method` of it; a `NotFoundError` if the file is gone. */
  async #ask<M extends 'file' | 'digest' | 'keep'>(method: M, ...args: Rest<M>): Promise<NonNullable<Awaited<ReturnType<WorkerApi[M]>>>> {
    if (!this.#open) throw new DOMException('Readable only until didFinishDownloadingTo settles', 'InvalidStateError');
    const { sessionId, taskIdentifier } = this.#event;
    const answer = await callWorker(method, ...([sessionId, taskIdentifier, ...args] as unknown as Parameters<WorkerApi[M]>));
    if (!answer) throw new DOMException('The downloaded file is gone from storage', 'NotFoundError');
    return answer as NonNullable<Awaited<ReturnType<WorkerApi[M]>>>;
  }

  /** @internal Ends the handler's access. */
  close(): void {
    this.#open = false;
  }
}
