/**
 * Ends a wait for bytes that went on too long: URLSession's `timeoutIntervalForRequest`. A
 * server that goes silent mid-body, the connection still open, would otherwise hold its
 * transfer forever. `touch()` on each chunk is one assignment; a timer looks now and then,
 * so the abort comes between `ms` and 1.25 × `ms` after the last byte.
 */
export class IdleTimeout {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setInterval>;
  #last = Date.now();
  /** Waits under way that are the worker's own (storage), during which the clock stops. */
  #exempt = 0;

  constructor(readonly ms: number) {
    this.#timer = setInterval(
      () => {
        if (this.#exempt > 0 || Date.now() - this.#last < ms) return;
        this.#controller.abort(new DOMException(`No data for ${ms} ms`, 'TimeoutError'));
        this.clear();
      },
      Math.min(1000, ms / 4),
    );
  }

  /** Aborted once the wait went on too long. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Bytes came: the wait starts again. */
  touch(): void {
    this.#last = Date.now();
  }

  /** Runs `work` with the clock stopped: a wait on the worker's own storage is not one on the network. */
  async exempt<T>(work: () => Promise<T>): Promise<T> {
    this.#exempt++;
    try {
      return await work();
    } finally {
      this.#exempt--;
      this.touch();
    }
  }

  /** No more waits to time. */
  clear(): void {
    clearInterval(this.#timer);
  }
}
