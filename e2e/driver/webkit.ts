/**
 * The driver for WebKit: WebKitGTK's WebKitWebDriver (classic WebDriver over HTTP) starting
 * `webkit-browser.py`, a small PyGObject browser on a persistent profile, under an Xvfb of its
 * own (WebKitGTK has no headless mode).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sleep, type BrowserDriver, type LaunchOptions } from './driver.js';
import { killProcessTree, processTree } from './processes.js';
import { webkitPage } from './webkit-page.js';
import { WebDriverSession, waitForDriver } from './webkit-session.js';

/** The WebKitWebDriver to run: `WEBKIT_DRIVER_PATH`, else Debian's (`webkit2gtk-driver`). */
export const WEBKIT_DRIVER_PATH = process.env.WEBKIT_DRIVER_PATH || '/usr/bin/WebKitWebDriver';

/** The Python with Debian's PyGObject and WebKit2 typelib (a pyenv `python3` first on PATH has neither). */
export const WEBKIT_PYTHON = process.env.WEBKIT_PYTHON || '/usr/bin/python3';

/** The feature flags the browser starts with: `navigator.storage` (persist, estimate) as Safari has it. */
export const WEBKIT_FEATURES = ['+StorageAPI', '+StorageAPIEstimate'];

/** `BGDL_WEBKIT_DEBUG=1` shows all the browser and WebKitWebDriver print, not only page errors. */
const DEBUG = Boolean(process.env.BGDL_WEBKIT_DEBUG);

const BROWSER_SCRIPT = fileURLToPath(new URL('./webkit-browser.py', import.meta.url));

/** A child process of ours and a way to end it. */
interface Child {
  process: ChildProcess;
  /** What it said last on stderr, for errors. */
  log(): string;
}

/** WebKit on the profile `profile`: the library runs its streaming engine (WebKit has no Background Fetch). */
export async function launchWebKit({ profile }: LaunchOptions): Promise<BrowserDriver> {
  const xvfb = await startXvfb();
  let driver: { child: Child; url: string } | undefined;
  try {
    driver = await startDriver(xvfb.display);
    return await webkitDriver(profile, driver, xvfb.child);
  } catch (error) {
    await Promise.all([driver && stop(driver.child), stop(xvfb.child)]);
    throw error;
  }
}

/** The driver over a running WebKitWebDriver: starts the browser, and again on `restart` and `kill`. */
async function webkitDriver(profile: string, driver: { child: Child; url: string }, xvfb: Child): Promise<BrowserDriver> {
  // What only this browser's command line holds: the trailing space ends the profile's path.
  const marker = `webkit-browser.py --profile=${profile} `;
  const args = [BROWSER_SCRIPT, `--profile=${profile}`, `--features=${WEBKIT_FEATURES.join(',')}`, '--console'];
  const start = async () => {
    if ((await processTree(marker)).length) throw new Error(`A WebKit browser already runs on ${profile}`);
    return WebDriverSession.create(driver.url, { binary: WEBKIT_PYTHON, args }).catch((error: Error) => {
      throw new Error(`WebKit did not start: ${error.message}\n${driver.child.log()}`);
    });
  };
  let session = await start();
  const restart = async (how: 'restart' | 'kill') => {
    await endBrowser(session, marker, how);
    session = await start();
  };
  return {
    name: 'webkit',
    openPage: async (url) => {
      const handle = await session.newWindow();
      const page = webkitPage(session, handle);
      await page.goto(url);
      return page;
    },
    restart: () => restart('restart'),
    kill: () => restart('kill'),
    // Neither classic WebDriver nor WebKitGTK's API can stop a service worker (the data manager only
    // clears registrations), and killing a web process by guess could hit a page's instead.
    stopWorkers: null,
    close: async () => {
      await endBrowser(session, marker, 'close').catch((error) => console.error(`[webkit] ${error}`));
      await Promise.all([stop(driver.child), stop(xvfb)]);
    },
  };
}

/**
 * Ends the browser of `session`: `kill` sends SIGKILL to all its processes at once; otherwise
 * its UI process gets SIGTERM and quits as on a user's Quit (WebDriver's DELETE would SIGKILL
 * it), letting the network process flush what it keeps. Resolves once every process is gone.
 */
async function endBrowser(session: WebDriverSession, marker: string, how: 'restart' | 'kill' | 'close'): Promise<void> {
  session.markEnded(how);
  const processes = await processTree(marker);
  if (how === 'kill') await killProcessTree(marker);
  else for (const pid of processes) if ((await commandLine(pid)).includes(marker)) signal(pid, 'SIGTERM');
  // The helpers outlive the UI process a little (reparented, as they flush), so the pids are watched, not the tree.
  const end = Date.now() + 15_000;
  while ((await alive(processes)).length && Date.now() < end) await sleep(50);
  const left = await alive(processes);
  if (left.length) {
    console.error(`[webkit] ${left.length} process(es) still ran 15 s after the browser's ${how}: SIGKILL`);
    for (const pid of left) signal(pid, 'SIGKILL');
  }
  await session.end(how);
}

/** The processes of `pids` that still run (a zombie has ended). */
async function alive(pids: number[]): Promise<number[]> {
  const states = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')));
  return pids.filter((_, index) => {
    const stat = states[index] ?? '';
    return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  });
}

/** The command line of `pid`, its arguments joined by spaces (with a trailing one), or '' once it is gone. */
async function commandLine(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
}

/** Sends `name` to `pid`, which may have ended already. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

/** Spawns `command`, keeping the tail of its stderr for errors; ended on Node's exit if still running. */
function child(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; extraFd?: boolean } = {}): Child {
  const stdio = options.extraFd ? (['ignore', 'pipe', 'pipe', 'pipe'] as const) : (['ignore', 'pipe', 'pipe'] as const);
  const proc = spawn(command, args, { env: options.env ?? process.env, stdio: [...stdio] });
  let tail = '';
  proc.stderr?.on('data', (data: Buffer) => void (tail = (tail + data.toString()).slice(-4000)));
  // A test run that dies must not leave a display or a driver behind (the browser follows its driver: PDEATHSIG).
  const onExit = () => signal(proc.pid ?? 0, 'SIGKILL');
  process.once('exit', onExit);
  proc.once('exit', () => process.off('exit', onExit));
  return { process: proc, log: () => tail };
}

/** Starts an Xvfb on a display it picks itself (`-displayfd`), so parallel runs cannot collide. */
async function startXvfb(): Promise<{ child: Child; display: string }> {
  const xvfb = child('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'], { extraFd: true });
  xvfb.process.stdout?.resume();
  const display = await new Promise<string>((resolve, reject) => {
    let said = '';
    xvfb.process.stdio[3]?.on('data', (data: Buffer) => {
      said += data.toString();
      if (said.includes('\n')) resolve(`:${said.trim()}`);
    });
    xvfb.process.once('error', reject);
    xvfb.process.once('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${xvfb.log()}`)));
    setTimeout(() => reject(new Error('Xvfb named no display within 10 s')), 10_000).unref();
  }).catch(async (error: Error) => {
    await stop(xvfb);
    throw error;
  });
  return { child: xvfb, display };
}

/** Starts WebKitWebDriver on a free port, on `display`; page errors its browsers print go to stderr. */
async function startDriver(display: string): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const driver = child(WEBKIT_DRIVER_PATH, [`--port=${port}`, '--host=127.0.0.1'], { env: { ...process.env, DISPLAY: display } });
  for (const stream of [driver.process.stdout, driver.process.stderr]) {
    let pending = '';
    stream?.on('data', (data: Buffer) => {
      const lines = (pending + data.toString()).split('\n');
      pending = lines.pop() ?? '';
      // The browser (--console) prints every console message; as the other drivers, only uncaught errors are shown.
      for (const line of lines) if (DEBUG || line.includes('CONSOLE JS ERROR')) console.error(`${DEBUG ? '[webkit]' : '[page error]'} ${line}`);
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) => {
    driver.process.once('exit', (code) => reject(new Error(`WebKitWebDriver exited (${code}): ${driver.log()}`)));
  });
  exited.catch(() => undefined);
  await Promise.race([waitForDriver(url, 10_000), exited]);
  return { child: driver, url };
}

/** A TCP port no one listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Ends a child of ours: SIGTERM, then SIGKILL if it still runs after 5 s. Resolves once it has exited. */
async function stop({ process: proc }: Child): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
