// @ts-check
/**
 * `node scripts/browser-matrix.mjs [report.json]`: the browser matrix README shows, from the last
 * `npm test` (Playwright's JSON report, `test-results/report.json`): for each test file and each
 * browser project, how many tests passed, failed and skipped, and each skip's reason once.
 */
import { readFile } from 'node:fs/promises';

const file = process.argv[2] ?? 'test-results/report.json';
/** @type {any} */
const report = JSON.parse(await readFile(file, 'utf8'));
const PROJECTS = ['background-fetch', 'stream', 'firefox', 'webkit'];
/** @type {Map<string, Map<string, { passed: number; failed: number; skipped: number }>>} */
const cells = new Map();
/** @type {Map<string, Set<string>>} */
const reasons = new Map();

/** Every spec of a suite and of the suites in it. @returns {any[]} */
const specsOf = (/** @type {any} */ suite) => [...(suite.specs ?? []), ...(suite.suites ?? []).flatMap(specsOf)];

for (const suite of report.suites) {
  for (const spec of specsOf(suite)) {
    for (const run of spec.tests) {
      if (!PROJECTS.includes(run.projectName)) continue;
      const row = cells.get(spec.file) ?? new Map();
      cells.set(spec.file, row);
      const cell = row.get(run.projectName) ?? { passed: 0, failed: 0, skipped: 0 };
      row.set(run.projectName, cell);
      const status = run.status === 'expected' ? 'passed' : run.status === 'skipped' ? 'skipped' : 'failed';
      cell[status]++;
      const reason = run.annotations?.find((/** @type {any} */ a) => a.type === 'skip')?.description;
      if (status === 'skipped' && reason) reasons.set(run.projectName, (reasons.get(run.projectName) ?? new Set()).add(reason));
    }
  }
}

const show = (/** @type {{ passed: number; failed: number; skipped: number } | undefined} */ c) =>
  c ? [`${c.passed} passed`, c.failed ? `**${c.failed} failed**` : '', c.skipped ? `${c.skipped} skipped` : ''].filter(Boolean).join(', ') : 'not run';
console.log(`| test file | Chromium, Background Fetch | Chromium, streaming | Firefox ESR | WebKitGTK |`);
console.log(`| --- | --- | --- | --- | --- |`);
for (const [spec, row] of [...cells].sort()) console.log(`| \`${spec}\` | ${PROJECTS.map((p) => show(row.get(p))).join(' | ')} |`);
for (const [project, why] of reasons) console.log(`\nSkipped in ${project}: ${[...why].map((w) => `"${w}"`).join('; ')}.`);
