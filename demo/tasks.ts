/** The task table: a row per task, made on first sight and updated in place. */
import type { URLError, URLSession, URLSessionTask } from '../src/index.js';
import { $, button, formatBytes, formatDuration, log, short } from './dom.js';

/** A row of the task table, updated in place. */
export interface Row {
  task: URLSessionTask;
  session: URLSession;
  element: HTMLTableRowElement;
  /** Whether the log has had the task's first bytes. */
  told: boolean;
  cells: { state: HTMLElement; bar: HTMLProgressElement; percent: HTMLElement; bytes: HTMLElement; speed: HTMLElement; eta: HTMLElement };
  buttons: { pause: HTMLButtonElement; resume: HTMLButtonElement; cancel: HTMLButtonElement };
}

const rows = new Map<number, Row>();

/** The task's row, made on first sight. */
export function rowFor(task: URLSessionTask, session: URLSession): Row {
  const known = rows.get(task.taskIdentifier);
  if (known) return Object.assign(known, { task });
  const element = document.createElement('tr');
  element.dataset.task = String(task.taskIdentifier);
  const cell = (className: string, text = '') => Object.assign(element.insertCell(), { className, textContent: text });
  const { identifier, isDiscretionary } = session.configuration;
  cell('id', short(task)).title = `task ${task.taskIdentifier} of session "${identifier}"${isDiscretionary ? ' (discretionary)' : ''}`;
  cell('url', task.originalRequest.url).title = task.originalRequest.url;
  const state = cell('state');
  const bar = Object.assign(document.createElement('progress'), { max: 1 });
  const percent = Object.assign(document.createElement('span'), { className: 'percent' });
  cell('progress').append(bar, percent);
  const bytes = cell('bytes number');
  const speed = cell('speed number');
  const eta = cell('eta number');
  const pause = button('Pause', () => {
    row.task.suspend();
    log(`suspend() ${short(row.task)}`);
  });
  const resume = button('Resume', () => {
    row.task.resume();
    log(`resume() ${short(row.task)}`);
  });
  const cancel = button('Cancel', () => {
    row.task.cancel();
    log(`cancel() ${short(row.task)}`);
  });
  cell('actions').append(pause, resume, cancel);
  const row: Row = { task, session, element, told: false, cells: { state, bar, percent, bytes, speed, eta }, buttons: { pause, resume, cancel } };
  rows.set(task.taskIdentifier, row);
  $('#tasks tbody').append(element);
  $('#no-tasks').hidden = true;
  return row;
}

/** Shows a row's task as it is now. */
export function update(row: Row): void {
  const { task, cells, buttons, element } = row;
  const got = task.countOfBytesReceived;
  const total = task.countOfBytesExpectedToReceive;
  // The library measures the pace and the time left (Foundation's Progress names them).
  const { throughput, estimatedTimeRemaining } = task.progress;
  const running = task.state === 'running';
  const error = task.error as URLError | null;

  element.dataset.state = task.state;
  if (error) element.dataset.error = error.code;
  cells.state.textContent = error ? `${task.state} (${error.code})` : task.state;
  const done = task.state === 'completed' && !error;
  const fraction = done ? 1 : task.progress.fractionCompleted;
  if (total > 0 || done || !running) cells.bar.value = fraction;
  else cells.bar.removeAttribute('value'); // size unknown: an indeterminate bar
  cells.percent.textContent = total > 0 || done ? `${Math.floor(fraction * 100)} %` : '';
  cells.bytes.textContent = total > 0 ? `${formatBytes(got)} / ${formatBytes(total)}` : formatBytes(got);
  cells.speed.textContent = running && throughput ? `${formatBytes(throughput)}/s` : '';
  cells.eta.textContent = running && estimatedTimeRemaining !== undefined ? formatDuration(estimatedTimeRemaining) : '';
  buttons.pause.disabled = !running;
  buttons.resume.disabled = task.state !== 'suspended';
  buttons.cancel.disabled = task.state === 'completed' || task.state === 'canceling';
}

/** Picks up the tasks of every session (other tabs' included) and updates the table. */
export async function refreshTasks(sessions: readonly URLSession[]): Promise<void> {
  for (const session of sessions) {
    for (const task of await session.getAllTasks()) rowFor(task, session);
  }
  for (const row of rows.values()) update(row);
}
