import type { CallState } from '../common/protocol.js';

/** How many ended calls are remembered: enough for the calls of the pages open at once. */
const REMEMBERED = 1000;

/**
 * The calls this worker has taken, by the id the page gave each: a page whose call goes
 * unanswered asks whether it is still running here, and makes it again if this worker never
 * had it (the worker that took it stopped mid-call, and its answer will never come).
 */
export class Calls {
  readonly #states = new Map<string, CallState>();

  /** A call came in. */
  begin(id: string): void {
    this.#states.set(id, 'running');
  }

  /** A call was answered: remembered a while, as its answer may still be on its way. */
  end(id: string): void {
    this.#states.delete(id);
    this.#states.set(id, 'done');
    if (this.#states.size > REMEMBERED) this.#states.delete(this.#states.keys().next().value!);
  }

  /** What this worker knows of call `id`. */
  state(id: string): CallState {
    return this.#states.get(id) ?? 'unknown';
  }
}
