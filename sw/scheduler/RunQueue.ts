/**
 * The streaming engine's run queue: how many transfers run at once, and how many of them may
 * have a request open to one host (`httpMaximumConnectionsPerHost`). Whoever waits longest
 * does not go first: the highest priority does, then the earliest resumed (`startOrder`).
 */
import type { ConfigurationRecord, TaskRecord } from '../../common/schema.js';
import { DEFAULT_CONNECTIONS_PER_HOST, startOrder, startsBefore } from './plan.js';

/**
 * Chromium's own limit of HTTP/1.1 connections per host (and per proxy): requests past it wait
 * in its network stack, which needs no help from the worker to keep to it.
 */
export const BROWSER_CONNECTIONS_PER_HOST = 6;

/** A transfer waiting for its turn or for a connection. */
export interface Slot {
  transferId: string;
  /** The host its requests go to. */
  host: string;
  /** How many requests its session lets be open to one host. */
  perHost: number;
  priority: number;
  resumedAt?: number;
}

type Waiter = Slot & { go: (ok: boolean) => void };

/**
 * Which of the waiting connections may open now: the first in start order whose host has room
 * (`open`: requests open per host). -1 if none.
 */
export function nextConnection(waiting: readonly Slot[], open: ReadonlyMap<string, number>): number {
  const next = startOrder(waiting).find((slot) => (open.get(slot.host) ?? 0) < slot.perHost);
  return next ? waiting.indexOf(next) : -1;
}

/** Turns and connections, handed out in start order. */
export class RunQueue {
  readonly #running = new Set<string>();
  /** Transfers waiting for a turn, in start order, and their ids. */
  readonly #turns: Waiter[] = [];
  readonly #waiting = new Set<string>();
  readonly #connections: Waiter[] = [];
  readonly #open = new Map<string, number>();
  /** Transfers whose open request counts in `#open`. */
  readonly #counted = new Set<string>();

  constructor(readonly total: number) {}

  /** Transfers running or waiting for a turn. */
  get size(): number {
    return this.#running.size + this.#turns.length;
  }

  /** Whether a transfer runs or waits for its turn here. */
  has(transferId: string): boolean {
    return this.#running.has(transferId) || this.#waiting.has(transferId);
  }

  /** Waits for a turn to run (fewer than `total` running); false if dropped meanwhile. */
  turn(slot: Slot): Promise<boolean> {
    return new Promise((resolve) => {
      // Kept in start order: with 1,000 transfers queued, sorting them at each turn added up.
      // Most come in start order: a look at the last spares a walk through all the others.
      const last = this.#turns.at(-1);
      const at = !last || startsBefore(slot, last) >= 0 ? -1 : this.#turns.findIndex((other) => startsBefore(slot, other) < 0);
      this.#turns.splice(at < 0 ? this.#turns.length : at, 0, { ...slot, go: resolve });
      this.#waiting.add(slot.transferId);
      this.#pump();
    });
  }

  /** Takes a transfer that waits for its turn out of the queue. Returns whether it was waiting. */
  drop(transferId: string): boolean {
    if (!this.#waiting.delete(transferId)) return false;
    const index = this.#turns.findIndex((slot) => slot.transferId === transferId);
    this.#turns.splice(index, 1)[0]!.go(false);
    return true;
  }

  /** A transfer's turn has ended (its file is stored, or it stopped): the next one goes. */
  release(transferId: string): void {
    if (this.#running.delete(transferId)) this.#pump();
  }

  /**
   * Waits until the transfer may open a request to its host. A cap the browser keeps itself
   * (`BROWSER_CONNECTIONS_PER_HOST` or more) is left to it: its network stack hands a finished
   * connection to the next request at once, where a hand-over here waits for the worker's
   * thread to read the whole body and run (1,000 files of 16 KiB: ~20% slower, `bench/README.md`).
   */
  connect(slot: Slot): Promise<void> {
    if (slot.perHost >= BROWSER_CONNECTIONS_PER_HOST) return Promise.resolve();
    return new Promise((resolve) => {
      this.#connections.push({ ...slot, go: () => resolve() });
      this.#pump();
    });
  }

  /** A request of `transferId` to `host` has ended. */
  disconnect(transferId: string, host: string): void {
    if (!this.#counted.delete(transferId)) return;
    this.#open.set(host, Math.max(0, (this.#open.get(host) ?? 1) - 1));
    this.#pump();
  }

  #pump(): void {
    while (this.#running.size < this.total && this.#turns.length > 0) {
      const next = this.#turns.shift()!;
      this.#waiting.delete(next.transferId);
      this.#running.add(next.transferId);
      next.go(true);
    }
    for (let index = nextConnection(this.#connections, this.#open); index >= 0; index = nextConnection(this.#connections, this.#open)) {
      const [next] = this.#connections.splice(index, 1);
      this.#open.set(next!.host, (this.#open.get(next!.host) ?? 0) + 1);
      this.#counted.add(next!.transferId);
      next!.go(true);
    }
  }
}

/** The host a task's requests go to. */
export function hostOf(task: TaskRecord): string {
  return new URL(task.originalRequest.url).host;
}

/** A task's place in the run queue. */
export function slotOf(task: TaskRecord, configuration: ConfigurationRecord | undefined): Slot {
  const perHost = configuration?.httpMaximumConnectionsPerHost ?? DEFAULT_CONNECTIONS_PER_HOST;
  return { transferId: task.transferId!, host: hostOf(task), perHost, priority: task.priority, resumedAt: task.resumedAt };
}
