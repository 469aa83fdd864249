// @ts-check
/** What the bench scripts read of a browser's processes, from `/proc`: by profile, or as a tree under its first process. */
import { readdirSync, readFileSync } from 'node:fs';

/** The processes of the browser run on `profile`. */
export function browserPids(/** @type {string} */ profile) {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`--user-data-dir=${profile}`);
      } catch {
        return false;
      }
    });
}

/** Their summed CPU time (s) and resident memory (bytes). */
export function usage(/** @type {string[]} */ pids) {
  let cpu = 0;
  let rss = 0;
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const stat = text.slice(text.lastIndexOf(')') + 2).split(' ');
      cpu += (Number(stat[11]) + Number(stat[12])) / 100; // utime + stime, in clock ticks of 10 ms
      rss += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      /* the process ended */
    }
  }
  return { cpu, rss };
}

/** The pid of the browser whose command line holds `--user-data-dir=<profile>` (not one of its children). */
export function browserPid(/** @type {string} */ profile) {
  const mine = new Map();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.includes(`--user-data-dir=${profile}`)) mine.set(Number(pid), parentOf(Number(pid)));
    } catch {
      /* the process ended */
    }
  }
  const root = [...mine].find(([, ppid]) => !mine.has(ppid));
  if (!root) throw new Error(`No Chromium process found for profile ${profile}`);
  return root[0];
}

export function parentOf(/** @type {number} */ pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** `root` and all its descendants. */
export function treePids(/** @type {number} */ root) {
  const children = new Map();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const ppid = parentOf(Number(name));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* the process ended */
    }
  }
  const pids = [];
  for (const stack = [root]; stack.length > 0;) {
    const pid = /** @type {number} */ (stack.pop());
    pids.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return pids;
}

/** The summed VmRSS, in bytes, of `root` and all its descendants (`treeRss.count`: how many). */
export function treeRss(/** @type {number} */ root) {
  const pids = treePids(root);
  treeRss.count = pids.length;
  let total = 0;
  for (const pid of pids) {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      total += Number(kb ?? 0) * 1024;
    } catch {
      /* the process ended */
    }
  }
  return total;
}
treeRss.count = 0;

/**
 * The CPU time (s, user + system) that `root` and its descendants have used: a run's share is
 * steadier than its wall time on a machine shared with other work.
 */
export function treeCpu(/** @type {number} */ root) {
  let total = 0;
  for (const pid of treePids(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 10 ms
    } catch {
      /* the process ended */
    }
  }
  return total;
}

/** Samples the tree's RSS every 100 ms. `start()` begins a measurement and returns a function giving its growth so far. */
export function memorySampler(/** @type {number} */ root) {
  let peak = treeRss(root);
  const timer = setInterval(() => (peak = Math.max(peak, treeRss(root))), 100);
  const start = () => {
    const base = (peak = treeRss(root));
    return () => Math.max(peak, treeRss(root)) - base;
  };
  return { start, stop: () => clearInterval(timer) };
}
