/** The processes of a browser under test, found by what their command lines name. */
import { readdir, readFile } from 'node:fs/promises';

/** The processes whose command line contains `marker` (a browser's profile), and all their descendants. */
export async function processTree(marker: string): Promise<number[]> {
  const parents = new Map<number, number>();
  const roots: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [command, stat] = await Promise.all([readFile(`/proc/${entry}/cmdline`, 'utf8'), readFile(`/proc/${entry}/stat`, 'utf8')]).catch(() => ['', '']);
    // stat: "pid (name) state ppid ...", the name may hold spaces.
    parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    if (command.replaceAll('\0', ' ').includes(marker)) roots.push(Number(entry));
  }
  const tree = new Set(roots);
  for (let grown = true; grown;) {
    grown = false;
    for (const [pid, parent] of parents) if (tree.has(parent) && !tree.has(pid)) grown = Boolean(tree.add(pid));
  }
  return [...tree];
}

/** Sends SIGKILL to every process of the tree `marker` names; throws if there is none, so a kill cannot silently miss. */
export async function killProcessTree(marker: string): Promise<void> {
  const processes = await processTree(marker);
  if (processes.length === 0) throw new Error(`No process names ${marker}: nothing to kill`);
  for (const pid of processes) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already, with its parent
    }
  }
}
