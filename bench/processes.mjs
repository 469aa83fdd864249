// @ts-check
/** What the bench scripts read of a browser's processes, from `/proc`. */
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
