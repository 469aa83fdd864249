/**
 * The demo page: a URL box, a live table of tasks and an event log, driven by the library;
 * the library itself is `globalThis.bgdl`, for use from the console.
 */
import * as library from '../src/index.js';
import { documents, registerServiceWorker, URLSession, URLSessionConfiguration, type URLSessionTask } from '../src/index.js';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const tasks = new Map<number, URLSessionTask>();

function log(text: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('#log').append(item);
  item.scrollIntoView({ block: 'nearest' });
}

function render(): void {
  const rows = [...tasks.values()].map((task) => {
    const row = document.createElement('tr');
    row.dataset.task = String(task.taskIdentifier);
    const { countOfBytesReceived: got, countOfBytesExpectedToReceive: total } = task;
    const cells = [String(task.taskIdentifier).slice(-6), task.originalRequest.url, task.state, '', total > 0 ? `${got} / ${total}` : String(got)];
    for (const [i, text] of cells.entries()) {
      const cell = row.insertCell();
      cell.textContent = text;
      if (i === 1) cell.className = 'url';
      if (i === 3) cell.append(Object.assign(document.createElement('progress'), { max: 1, value: task.progress.fractionCompleted }));
    }
    const cancel = Object.assign(document.createElement('button'), { textContent: 'Cancel', disabled: task.state === 'completed' });
    cancel.onclick = () => task.cancel();
    row.insertCell().append(cancel);
    return row;
  });
  $('#tasks tbody').replaceChildren(...rows);
}

async function renderFiles(): Promise<void> {
  const items = (await documents.list()).map((name) => {
    const item = document.createElement('li');
    const save = Object.assign(document.createElement('button'), { textContent: 'Save' });
    save.onclick = async () => {
      const blob = await documents.get(name);
      if (!blob) return;
      const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: name });
      link.click();
      URL.revokeObjectURL(link.href);
    };
    const remove = Object.assign(document.createElement('button'), { textContent: 'Delete' });
    remove.onclick = () => documents.delete(name).then(renderFiles);
    item.append(`${name} `, save, ' ', remove);
    return item;
  });
  $('#files').replaceChildren(...items);
}

await registerServiceWorker('./sw.js');
const registration = await navigator.serviceWorker.ready;
$('#engine').textContent = registration.backgroundFetch ? 'engine: Background Fetch' : 'engine: streaming (no Background Fetch)';

const configuration = URLSessionConfiguration.background('demo');
const session = new URLSession(configuration, {
  didWriteData(_session, task) {
    tasks.set(task.taskIdentifier, task);
    render();
  },
  async didFinishDownloadingTo(_session, task, location) {
    const name = `${task.taskIdentifier}-${new URL(task.originalRequest.url).pathname.split('/').pop() || 'download'}`;
    await location.moveTo(name);
    log(`didFinishDownloadingTo #${task.taskIdentifier}: ${location.size} bytes, kept as "${name}"`);
    await renderFiles();
  },
  didCompleteWithError(_session, task, error) {
    log(`didCompleteWithError #${task.taskIdentifier}: ${error ? `${error.name} ${(error as library.URLError).code ?? ''}: ${error.message}` : 'null'}`);
    render();
  },
  didFinishEvents() {
    log('didFinishEvents');
  },
});

$<HTMLFormElement>('#start').onsubmit = (event) => {
  event.preventDefault();
  try {
    const task = session.downloadTask($<HTMLInputElement>('#url').value);
    tasks.set(task.taskIdentifier, task);
    task.resume();
    log(`resume() #${task.taskIdentifier}: ${task.originalRequest.url}`);
    render();
  } catch (error) {
    log(String(error));
  }
};

const help = `bgdl: background URL sessions (names as Apple's URLSession)

  const config = bgdl.URLSessionConfiguration.background('MySession')
  const session = new bgdl.URLSession(config, {
    didWriteData(session, task, written, total, expected) { console.log(task.taskIdentifier, total, expected) },
    async didFinishDownloadingTo(session, task, location) { await location.moveTo('file.bin') },
    didCompleteWithError(session, task, error) { console.log('done', task.taskIdentifier, error) },
    didFinishEvents(session) { console.log('all events delivered') },
  })
  const task = session.downloadTask('${location.origin}/files/20m')
  task.resume()

  await session.getAllTasks()      the session's tasks
  await bgdl.documents.list()      files kept with location.moveTo(name)
  bgdl.session                     this page's session ('demo'), shown in the table`;

Object.assign(globalThis, { bgdl: { ...library, session, help: () => console.log(help) } });

for (const task of await session.getAllTasks()) tasks.set(task.taskIdentifier, task);
render();
await renderFiles();
document.body.dataset.ready = 'true';
