/** The debug panel: what the page knows of the worker and the browser, then each session's `debugState()`. */
import type { URLSession } from '../src/index.js';
import { $, formatBytes } from './dom.js';

/** Turns what `debugState()` returns into JSON, whatever it holds. */
function toJSON(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      if (typeof v === 'bigint') return String(v);
      if (v instanceof Error) return { ...v, name: v.name, message: v.message };
      return v;
    },
    2,
  );
}

/** The engine, the worker, the Background Fetch registrations and storage use. */
async function browserLines(): Promise<string[]> {
  const lines: string[] = [];
  const registration = await navigator.serviceWorker.getRegistration();
  const manager = registration?.backgroundFetch;
  lines.push(`engine: ${manager ? 'Background Fetch (the streaming engine for what it cannot finish)' : 'streaming (this browser has no Background Fetch)'}`);
  const worker = registration?.active;
  lines.push(`worker: ${worker?.scriptURL ?? 'none'} (${worker?.state ?? '-'}), controls this page: ${navigator.serviceWorker.controller ? 'yes' : 'no'}`);
  if (manager) {
    const fetches = await Promise.all((await manager.getIds()).map((id) => manager.get(id)));
    const running = fetches.filter((f): f is BackgroundFetchRegistration => f !== undefined);
    lines.push(`Background Fetch registrations: ${running.length}`);
    for (const f of running)
      lines.push(`  ${f.id}: ${formatBytes(f.downloaded)}${f.downloadTotal ? ` of ${formatBytes(f.downloadTotal)}` : ''} ${f.result || 'running'}`);
  }
  const estimate = await navigator.storage?.estimate?.();
  if (estimate) lines.push(`storage: ${formatBytes(estimate.usage ?? 0)} used of ${formatBytes(estimate.quota ?? 0)}`);
  return lines;
}

/** Each session's `debugState()`, or why it failed. */
async function sessionLines(sessions: readonly URLSession[]): Promise<string[]> {
  const lines: string[] = [];
  for (const session of sessions) {
    const { identifier, isDiscretionary } = session.configuration;
    lines.push('', `session "${identifier}" (isDiscretionary: ${isDiscretionary}): debugState()`);
    try {
      lines.push(toJSON(await session.debugState()));
    } catch (error) {
      lines.push(`  failed: ${String(error)}`);
    }
  }
  return lines;
}

/** How often the panel fills itself again while the page is visible. */
const INTERVAL_MS = 3000;
/** The least time between two fills, so that a burst of delegate events makes one call. */
const GAP_MS = 1000;

let running: Promise<void> = Promise.resolve();
let queued: Promise<void> | undefined;
let lastEnd = -Infinity;

/** Fills the panel once; a failure is shown in it rather than thrown. */
async function fill(sessions: readonly URLSession[]): Promise<void> {
  let text: string;
  try {
    text = [...(await browserLines()), ...(await sessionLines(sessions))].join('\n');
  } catch (error) {
    text = `failed: ${String(error)}`;
  }
  // Left alone when nothing changed, so a selection in the panel survives the refreshes.
  if ($('#debug').textContent !== text) $('#debug').textContent = text;
}

/**
 * Fills the debug panel again, soon: after the fill under way (never two at once) and at least
 * `GAP_MS` after it. Calls made meanwhile share the one fill queued.
 * @returns a promise that settles once the panel shows the state from after this call.
 */
export function refreshDebug(sessions: readonly URLSession[]): Promise<void> {
  queued ??= (async () => {
    await running;
    const wait = lastEnd + GAP_MS - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // From here on a call needs a fill of its own: this one may have read the state already.
    queued = undefined;
    running = fill(sessions).finally(() => (lastEnd = performance.now()));
    await running;
  })();
  return queued;
}

/** Keeps the debug panel live: every `INTERVAL_MS` while the page is visible, and as it becomes visible. */
export function liveDebug(sessions: readonly URLSession[]): void {
  const refresh = () => {
    if (document.visibilityState === 'visible') void refreshDebug(sessions);
  };
  setInterval(refresh, INTERVAL_MS);
  document.addEventListener('visibilitychange', refresh);
}
