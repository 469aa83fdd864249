/** The page's small helpers: elements, buttons, the event log and how numbers are shown. */
import type { URLSessionTask } from '../src/index.js';

/** The element `selector` finds; the demo's page always has it. */
export const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

/** A task's short name in the page: `#` and the last digits of its identifier. */
export const short = (task: URLSessionTask) => `#${String(task.taskIdentifier).slice(-6)}`;

/** Adds a timed line to the event log and keeps it in sight. */
export function log(text: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('#log').append(item);
  item.scrollIntoView({ block: 'nearest' });
}

/** Bytes in B, KiB, MiB or GiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) ((value /= 1024), unit++);
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Seconds as `12 s` or `3 min 05 s`. */
export function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** A plain button that calls `onclick`. */
export function button(text: string, onclick: () => void): HTMLButtonElement {
  const element = Object.assign(document.createElement('button'), { type: 'button', textContent: text });
  element.onclick = onclick;
  return element;
}
