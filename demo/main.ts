/**
 * The demo page: what the library does in the background, made visible. A URL box with the
 * task options, a live table of the tasks (state, progress, speed, ETA, buttons), the stored
 * files, the event log and a debug panel, all driven by the library. The library itself is
 * `globalThis.bgdl`, for the console: `bgdl.help()` says what can be typed.
 */
import * as library from '../src/index.js';
import { registerServiceWorker, URLSession, URLSessionConfiguration, type URLSessionDelegate } from '../src/index.js';
import { liveDebug, refreshDebug } from './debug.js';
import { $, log, short } from './dom.js';
import { persistToggle, renderFiles } from './files.js';
import { helpText } from './help.js';
import { refreshTasks, rowFor, update } from './tasks.js';

// The library is at hand in the console first, even if the worker never comes to cover the page.
const bgdl = Object.assign(globalThis, { bgdl: { ...library, help: () => console.log(helpText()) } }).bgdl;
// `?serveDocuments`: the prebuilt worker answers documents.url() (Play and Save).
await registerServiceWorker('./sw.js?serveDocuments');
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
    void refreshDebug(sessions);
  },
  async didFinishDownloadingTo(_session, task, location) {
    const name = `${short(task).slice(1)}-${new URL(task.originalRequest.url).pathname.split('/').pop() || 'download'}`;
    // Hashed from storage here, for the list to show (a file without integrity is not hashed as it arrives).
    const digest = await location.digestFor('sha256');
    await location.moveTo(name);
    log(`didFinishDownloadingTo ${short(task)}: ${location.size} bytes, ${digest}, kept as "${name}"`);
    await renderFiles();
    void refreshDebug(sessions);
  },
  didCompleteWithError(session, task, error) {
    log(`didCompleteWithError ${short(task)}: ${error ? `${error.name} ${error.code}: ${error.message}` : 'null'}`);
    update(rowFor(task, session));
    void refreshDebug(sessions);
  },
  didFinishEvents(session) {
    log(`didFinishEvents (session "${session.configuration.identifier}")`);
    void refreshDebug(sessions);
  },
};

/** The demo's sessions: `isDiscretionary` belongs to a configuration, so discretionary tasks get a session of their own. */
function createSession(identifier: string, discretionary: boolean): URLSession {
  const configuration = URLSessionConfiguration.background(identifier);
  configuration.isDiscretionary = discretionary;
  return new URLSession(configuration, delegate);
}
const session = createSession('demo', false);
const discretionarySession = createSession('demo-discretionary', true);
const sessions: URLSession[] = [session, discretionarySession];

$<HTMLInputElement>('#url').placeholder = `${location.origin}/files/20m?rate=2000000`;

$<HTMLFormElement>('#start').onsubmit = (event) => {
  event.preventDefault();
  try {
    const discretionary = $<HTMLInputElement>('#discretionary').checked;
    const target = discretionary ? discretionarySession : session;
    const task = target.downloadTask($<HTMLInputElement>('#url').value);
    const expected = $<HTMLInputElement>('#expected').valueAsNumber;
    if (expected > 0) task.countOfBytesClientExpectsToReceive = expected;
    const begin = $<HTMLInputElement>('#begin').value;
    if (begin) task.earliestBeginDate = new Date(begin);
    rowFor(task, target);
    task.resume();
    log(`resume() ${short(task)}: ${task.originalRequest.url}${discretionary ? ' (discretionary session)' : ''}`);
    update(rowFor(task, target));
    void refreshDebug(sessions);
  } catch (error) {
    log(String(error));
  }
};
$('#debug-refresh').onclick = () => void refreshDebug(sessions);

Object.assign(bgdl, { session, sessions: Object.fromEntries(sessions.map((s) => [s.configuration.identifier, s])) });

await Promise.all(sessions.map((s) => s.ready));
await refreshTasks(sessions);
setInterval(() => void refreshTasks(sessions), 500);
await renderFiles();
await persistToggle();
await refreshDebug(sessions);
liveDebug(sessions);
document.body.dataset.ready = 'true';
