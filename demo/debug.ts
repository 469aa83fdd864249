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

let debugPending: Promise<void> | undefined;
/** Fills the debug panel again (a call while one is under way shares it). */
export function refreshDebug(sessions: readonly URLSession[]): Promise<void> {
  debugPending ??= (async () => {
    const lines = [...(await browserLines()), ...(await sessionLines(sessions))];
    $('#debug').textContent = lines.join('\n');
  })().finally(() => (debugPending = undefined));
  return debugPending;
}
