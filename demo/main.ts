/**
 * The demo page: the seed's "Background Networking Profile" made visible. A URL box with the
 * task options, a live table of the tasks (state, progress, speed, ETA, buttons), the stored
 * files, the event log and a debug panel, all driven by the library. The library itself is
 * `globalThis.bgdl`, for the console: `bgdl.help()` says what can be typed.
 *
 * The demo uses what later versions of the library add (`task.earliestBeginDate`,
 * `task.suspend()`, `session.debugState()`) only where it exists, so it works with this one.
 */
import * as library from '../src/index.js';
import {
  documents,
  registerServiceWorker,
  URLSession,
  URLSessionConfiguration,
  URLSessionDownloadTask,
  type URLError,
  type URLSessionDelegate,
  type URLSessionTask,
} from '../src/index.js';

/** What later versions of the library add to a task. */
interface TaskExtras {
  earliestBeginDate?: Date | null;
  suspend?: () => void;
}
type Task = URLSessionTask & TaskExtras;
/** What later versions of the library add to a session. */
type Session = URLSession & { debugState?: () => Promise<unknown> };

/** A row of the task table, updated in place. */
interface Row {
  task: Task;
  session: Session;
  element: HTMLTableRowElement;
  /** (time, bytes received) over the last seconds, for the speed. */
  samples: [number, number][];
  told: boolean;
  cells: { state: HTMLElement; bar: HTMLProgressElement; percent: HTMLElement; bytes: HTMLElement; speed: HTMLElement; eta: HTMLElement };
  buttons: { pause: HTMLButtonElement; resume: HTMLButtonElement; cancel: HTMLButtonElement };
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const rows = new Map<number, Row>();
/** How far back the speed looks. */
const SPEED_WINDOW_MS = 3000;

const short = (task: URLSessionTask) => `#${String(task.taskIdentifier).slice(-6)}`;

function log(text: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('#log').append(item);
  item.scrollIntoView({ block: 'nearest' });
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) ((value /= 1024), unit++);
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function button(text: string, onclick: () => void): HTMLButtonElement {
  const element = Object.assign(document.createElement('button'), { type: 'button', textContent: text });
  element.onclick = onclick;
  return element;
}

/** The task's row, made on first sight. */
function rowFor(task: Task, session: Session): Row {
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
    row.task.suspend?.();
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
  const row: Row = { task, session, element, samples: [], told: false, cells: { state, bar, percent, bytes, speed, eta }, buttons: { pause, resume, cancel } };
  rows.set(task.taskIdentifier, row);
  $('#tasks tbody').append(element);
  $('#no-tasks').hidden = true;
  return row;
}

/** Shows a row's task as it is now. */
function update(row: Row): void {
  const { task, cells, buttons, element } = row;
  const now = performance.now();
  const got = task.countOfBytesReceived;
  const total = task.countOfBytesExpectedToReceive;
  row.samples.push([now, got]);
  while (row.samples.length > 2 && now - row.samples[0]![0] > SPEED_WINDOW_MS) row.samples.shift();
  const [since, gotThen] = row.samples[0]!;
  const speed = now - since > 400 ? ((got - gotThen) * 1000) / (now - since) : 0;
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
  cells.speed.textContent = running && speed > 0 ? `${formatBytes(speed)}/s` : '';
  cells.eta.textContent = running && speed > 0 && total > 0 ? formatDuration((total - got) / speed) : '';
  buttons.pause.disabled = !running;
  buttons.resume.disabled = task.state !== 'suspended';
  buttons.cancel.disabled = task.state === 'completed' || task.state === 'canceling';
}

/** Picks up the tasks of every session (other tabs' included) and updates the table. */
async function refreshTasks(): Promise<void> {
  for (const session of sessions) {
    for (const task of await session.getAllTasks()) rowFor(task, session);
  }
  for (const row of rows.values()) update(row);
}

async function renderFiles(): Promise<void> {
  const items = await Promise.all(
    (await documents.list()).map(async (name) => {
      const item = document.createElement('li');
      item.dataset.name = name;
      const blob = await documents.get(name);
      const save = button('Save', async () => {
        const file = await documents.get(name);
        if (!file) return;
        const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(file), download: name });
        link.click();
        setTimeout(() => URL.revokeObjectURL(link.href), 1000);
      });
      const remove = button('Delete', () => void documents.delete(name).then(renderFiles));
      item.append(`${name} (${blob ? formatBytes(blob.size) : '?'}) `, save, ' ', remove);
      return item;
    }),
  );
  $('#files').replaceChildren(...items);
}

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

let debugPending: Promise<void> | undefined;
/** The debug panel: `session.debugState()` where the library has it, else what the page knows. */
function refreshDebug(): Promise<void> {
  debugPending ??= (async () => {
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
    for (const session of sessions) {
      const { identifier, isDiscretionary } = session.configuration;
      lines.push('');
      lines.push(`session "${identifier}" (isDiscretionary: ${isDiscretionary}): debugState()`);
      try {
        lines.push(toJSON(await session.debugState()));
      } catch (error) {
        lines.push(`  failed: ${String(error)}`);
      }
    }
    $('#debug').textContent = lines.join('\n');
  })().finally(() => (debugPending = undefined));
  return debugPending;
}

// The library is at hand in the console first, even if the worker never comes to cover the page.
const bgdl = Object.assign(globalThis, { bgdl: { ...library, help: () => console.log(helpText()) } }).bgdl;
await registerServiceWorker('./sw.js');
const registration = await navigator.serviceWorker.ready;
$('#engine').textContent = registration.backgroundFetch ? 'engine: Background Fetch' : 'engine: streaming (no Background Fetch)';

const delegate: URLSessionDelegate = {
  didWriteData(session, task) {
    const row = rowFor(task, session);
    if (!row.told) {
      row.told = true;
      log(`didWriteData ${short(task)}: the first bytes`);
    }
    update(row);
  },
  async didFinishDownloadingTo(_session, task, location) {
    const name = `${short(task).slice(1)}-${new URL(task.originalRequest.url).pathname.split('/').pop() || 'download'}`;
    await location.moveTo(name);
    log(`didFinishDownloadingTo ${short(task)}: ${location.size} bytes, kept as "${name}"`);
    await renderFiles();
  },
  didCompleteWithError(session, task, error) {
    log(`didCompleteWithError ${short(task)}: ${error ? `${error.name} ${error.code}: ${error.message}` : 'null'}`);
    update(rowFor(task, session));
    void refreshDebug();
  },
  didFinishEvents(session) {
    log(`didFinishEvents (session "${session.configuration.identifier}")`);
    void refreshDebug();
  },
};

/** The demo's sessions: `isDiscretionary` belongs to a configuration, so discretionary tasks get a session of their own. */
function createSession(identifier: string, discretionary: boolean): Session {
  const configuration = URLSessionConfiguration.background(identifier);
  configuration.isDiscretionary = discretionary;
  return new URLSession(configuration, delegate);
}
const session = createSession('demo', false);
const discretionarySession = createSession('demo-discretionary', true);
const sessions: Session[] = [session, discretionarySession];

$<HTMLInputElement>('#url').placeholder = `${location.origin}/files/20m?rate=2000000`;

$<HTMLFormElement>('#start').onsubmit = (event) => {
  event.preventDefault();
  try {
    const discretionary = $<HTMLInputElement>('#discretionary').checked;
    const target = discretionary ? discretionarySession : session;
    const task: Task = target.downloadTask($<HTMLInputElement>('#url').value);
    const expected = $<HTMLInputElement>('#expected').valueAsNumber;
    if (expected > 0) task.countOfBytesClientExpectsToReceive = expected;
    const begin = $<HTMLInputElement>('#begin').value;
    if (begin) task.earliestBeginDate = new Date(begin);
    else if (begin) log('earliestBeginDate is not in this version of the library: the task starts now');
    rowFor(task, target);
    task.resume();
    log(`resume() ${short(task)}: ${task.originalRequest.url}${discretionary ? ' (discretionary session)' : ''}`);
    update(rowFor(task, target));
    void refreshDebug();
  } catch (error) {
    log(String(error));
  }
};
$('#debug-refresh').onclick = () => void refreshDebug();

/** What `bgdl.help()` prints: the seed's examples, limited to what this version of the library has. */
function helpText(): string {
  const origin = location.origin;
  return [
    `bgdl: background URL sessions for the web (Apple's URLSession, name for name)`,
    ``,
    `// Configure the background session`,
    `const config = bgdl.URLSessionConfiguration.background('MySession')`,
    `config.isDiscretionary = true          // recorded with the session`,
    `config.sessionSendsLaunchEvents = true`,
    `const urlSession = new bgdl.URLSession(config, {`,
    `  didWriteData(session, task, bytesWritten, totalBytesWritten, totalBytesExpectedToWrite) {`,
    `    console.log(task.taskIdentifier, totalBytesWritten, totalBytesExpectedToWrite)`,
    `  },`,
    `  async didFinishDownloadingTo(session, task, location) {`,
    `    await location.moveTo('report.bin')  // readable until this settles; moved files stay in bgdl.documents`,
    `  },`,
    `  didCompleteWithError(session, task, error) { console.log('completed', task.taskIdentifier, error?.code ?? 'ok') },`,
    `  didFinishEvents(session) { console.log('every event delivered') },`,
    `})`,
    ``,
    `// Create and schedule the download task`,
    `const backgroundTask = urlSession.downloadTask('${origin}/files/20m?rate=2000000')`,
    `backgroundTask.earliestBeginDate = new Date(Date.now() + 60 * 60 * 1000)`,
    `backgroundTask.countOfBytesClientExpectsToReceive = 25 * 1024 * 1024  // an upper bound: past it, the download fails`,
    `backgroundTask.resume()`,
    ``,
    `// More`,
    `await urlSession.getAllTasks()      // the tasks not completed, or whose completion is still to be told`,
    `backgroundTask.state                // 'suspended' | 'running' | 'canceling' | 'completed'`,
    `backgroundTask.progress.fractionCompleted`,
    `backgroundTask.suspend()             // pause; resume() goes on`,
    `backgroundTask.cancel()              // ends in didCompleteWithError with a URLError, code 'cancelled'`,
    `await urlSession.debugState()       // what the worker knows of the session`,
    `await bgdl.documents.list()         // stored files; bgdl.documents.get(name) is a Blob, .delete(name)`,
    `bgdl.session                        // this page's session "demo" (bgdl.sessions: the demo's two)`,
  ].join('\n');
}

Object.assign(bgdl, { session, sessions: Object.fromEntries(sessions.map((s) => [s.configuration.identifier, s])) });

await Promise.all(sessions.map((s) => s.ready));
await refreshTasks();
setInterval(() => void refreshTasks(), 500);
await renderFiles();
await refreshDebug();
document.body.dataset.ready = 'true';
