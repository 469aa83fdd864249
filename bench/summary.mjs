// @ts-check
/** What `bench.mjs` makes of its runs: medians, ratios against the targets, and the tables it prints. */

const MiB = 1024 ** 2;

/** The targets of issue #15, which the tables mark as met or not. */
export const TARGETS = { libOverB: 0.9, cpuLibOverB: 1.2, memoryGrowth: 64 * MiB, manyOverFetch: 1.2, deliveryMs: 50, startMs: 100 };

/** @typedef {import('./bench.mjs').Run} Run */
/** @typedef {import('./bench.mjs').Method} Method */

/** Bytes in MiB, as the tables show them. */
export const mib = (/** @type {number} */ bytes) => (bytes / MiB).toFixed(0);

/** The median of `xs` (NaN if empty). */
export function median(/** @type {number[]} */ xs) {
  const at = (/** @type {number} */ i) => [...xs].sort((x, y) => x - y)[i] ?? NaN;
  return (at(Math.floor((xs.length - 1) / 2)) + at(Math.ceil((xs.length - 1) / 2))) / 2;
}

/** Medians, ratios and the memory peak for one engine and size. */
export function summarize(/** @type {Run[]} */ runs) {
  const of = (/** @type {Method} */ m) => median(runs.flatMap((r) => (r.method === m && r.mbps ? [r.mbps] : [])));
  const mbps = { lib: of('lib'), a: of('a'), b: of('b') };
  const libRuns = runs.filter((r) => r.method === 'lib');
  const memoryGrowth = Math.max(0, ...libRuns.map((r) => r.memoryGrowth ?? 0));
  const failures = runs.filter((r) => r.error).map((r) => `run ${r.run} ${r.method}: ${r.error}`);
  const libTailMs = median(libRuns.flatMap((r) => (r.tailMs !== undefined ? [r.tailMs] : [])));
  const libStartMs = median(libRuns.flatMap((r) => (r.startLagMs !== undefined ? [r.startLagMs] : [])));
  const libOverA = mbps.lib / mbps.a;
  const libOverB = mbps.lib / mbps.b;
  const cpu = (/** @type {Method} */ m) => median(runs.flatMap((r) => (r.method === m && r.mbps && r.cpuS ? [r.cpuS] : [])));
  const cpuLibOverB = cpu('lib') / cpu('b');
  return {
    mbps,
    libOverA,
    libOverB,
    cpuLibOverB,
    memoryGrowth,
    libTailMs,
    libStartMs,
    failures,
    targets: { libOverB: libOverB >= TARGETS.libOverB, memoryGrowth: memoryGrowth < TARGETS.memoryGrowth && libRuns.every((r) => !r.error) },
  };
}

/**
 * Prints the table of sizes (`rows`, from `summarize`) and the many-tasks lines.
 * @param {ReturnType<typeof summarize> extends infer S ? (S & { engine: string, size: string })[] : never} rows
 * @param {{ runs: number, many: number, engines: string[], manyResults: Record<string, any> }} how
 */
export function printResults(rows, { runs: RUNS, many: MANY, engines: ENGINES, manyResults }) {
  const fmt = (/** @type {number} */ x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
  const met = (/** @type {boolean} */ ok) => (ok ? 'met' : 'NOT MET');
  const table = [
    [
      'engine',
      'size',
      'lib MB/s',
      '(a) MB/s',
      '(b) MB/s',
      'lib/(a)',
      `lib/(b) [>= ${TARGETS.libOverB}]`,
      `lib memory [< ${mib(TARGETS.memoryGrowth)} MiB]`,
      `lib first GET [< ${TARGETS.startMs} ms]`,
      'lib after last byte',
      `CPU lib/(b) [<= ${TARGETS.cpuLibOverB}]`,
    ],
    ...rows.map((r) => [
      r.engine,
      r.size,
      fmt(r.mbps.lib),
      fmt(r.mbps.a),
      fmt(r.mbps.b),
      fmt(r.libOverA, 2),
      `${fmt(r.libOverB, 2)} ${met(r.targets.libOverB)}`,
      `+${mib(r.memoryGrowth)} MiB ${met(r.targets.memoryGrowth)}`,
      `${fmt(r.libStartMs)} ms ${met(r.libStartMs < TARGETS.startMs)}`,
      `${fmt(r.libTailMs)} ms`,
      `${fmt(r.cpuLibOverB, 2)} ${met(r.cpuLibOverB <= TARGETS.cpuLibOverB)}`,
    ]),
  ];
  const widths = table.map((row) => row.map((cell) => cell.length)).reduce((w, row) => w.map((x, i) => Math.max(x, row[i] ?? 0)));
  console.log(`\nmedian of ${RUNS} run(s); MB/s = 10^6 bytes/s; (a) page fetch(), body dropped; (b) worker fetch() + cache.put()`);
  for (const row of table)
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  for (const r of rows) for (const failure of r.failures) console.log(`FAILED ${r.engine} ${r.size} ${failure}`);
  if (MANY > 0) {
    console.log(
      `\n${MANY} tasks of 16 KiB, median of ${RUNS} alternated run(s): lib = one session, resume() of all to the last didCompleteWithError; fetch = ${MANY} fetch() in the page at once, bodies read`,
    );
    console.log(
      `delivery = a new page creating the session, to its ${MANY}th waiting event handled (and to the last of ${2 * MANY}), the median of ${RUNS} run(s)`,
    );
    for (const engine of ENGINES) {
      const m = manyResults[engine];
      if (!m) continue;
      const ratio = m.ratio === undefined ? '-' : `${fmt(m.ratio, 2)} ${met(m.ratio <= TARGETS.manyOverFetch)}`;
      const d = m.delivery;
      const delivery = d?.atCount === undefined ? '-' : `${fmt(d.atCount)} ms ${met(d.atCount < TARGETS.deliveryMs)} (last ${fmt(d.last)} ms)`;
      console.log(
        `${engine.padEnd(16)}  lib ${fmt(m.libMs)} ms  fetch ${fmt(m.fetchMs)} ms  lib/fetch [<= ${TARGETS.manyOverFetch}] ${ratio}  delivery [< ${TARGETS.deliveryMs} ms] ${delivery}${m.error ? `  FAILED: ${m.error}` : ''}`,
      );
    }
  }
}
