/**
 * Tells a registration that stopped receiving: URLSession's `timeoutIntervalForRequest`, for
 * Background Fetch. Chromium resumes a registration after a browser restart and may then never
 * finish it: the server sent every byte, one request is never completed, and no end event
 * comes (seen in Chromium 14x, about one restart in two). A registration not started yet
 * (waiting behind another, none of its bytes received) or waiting for the network is not
 * stalled.
 */
export class Stall {
  #downloaded = -1;
  #since = 0;

  constructor(readonly ms: number) {}

  /** Whether the registration, now at `downloaded` bytes, has received nothing for `ms`. */
  seen(downloaded: number, now: number, online: boolean): boolean {
    if (downloaded !== this.#downloaded || downloaded === 0 || !online) {
      this.#downloaded = downloaded;
      this.#since = now;
      return false;
    }
    return now - this.#since >= this.ms;
  }
}
