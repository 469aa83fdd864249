/** Over how long a span of the latest samples `throughput` is measured. */
const WINDOW_MS = 5000;

/** The counts a task's progress is made of: its bytes done, and their total (-1: unknown). */
type Counts = () => [completed: number, total: number];

/**
 * A task's progress, as Foundation's `Progress`: its units are bytes (received by a download,
 * sent by an upload). `throughput` and `estimatedTimeRemaining` are measured by this page, from
 * the progress it is told (`didWriteData`, `didSendBodyData`), over the last few seconds.
 */
export class Progress {
  /** Bytes per second over the last 5 s of progress, or undefined before there is any to measure. */
  throughput: number | undefined;
  /** Seconds left at `throughput`, or undefined while the total or the throughput is unknown. */
  estimatedTimeRemaining: number | undefined;
  readonly #counts: Counts;
  /** `[time in ms, bytes done]` for the progress of the last `WINDOW_MS`. */
  readonly #samples: [number, number][] = [];

  /** @internal A task makes its progress. */
  constructor(counts: Counts) {
    this.#counts = counts;
  }

  /** The bytes done. */
  get completedUnitCount(): number {
    return this.#counts()[0];
  }

  /** The bytes in all, or -1 while unknown. */
  get totalUnitCount(): number {
    return this.#counts()[1];
  }

  /** Between 0 and 1 (0 while the total is unknown). */
  get fractionCompleted(): number {
    const [done, total] = this.#counts();
    return total > 0 ? Math.min(1, done / total) : 0;
  }

  /** @internal The bytes done grew: measures the throughput again. */
  sample(now = performance.now()): void {
    const [done, total] = this.#counts();
    const samples = this.#samples;
    samples.push([now, done]);
    while (samples.length > 2 && now - samples[1]![0] >= WINDOW_MS) samples.shift();
    const [since, then] = samples[0]!;
    // Less than half a second of progress says little about its pace.
    if (now - since < 500) return;
    const throughput = ((done - then) * 1000) / (now - since);
    this.throughput = throughput;
    this.estimatedTimeRemaining = total > 0 && throughput > 0 ? Math.max(0, total - done) / throughput : undefined;
  }

  /** @internal The transfer stopped (or ended): nothing is under way to measure. */
  stop(): void {
    this.#samples.length = 0;
    this.throughput = this.estimatedTimeRemaining = undefined;
  }
}
