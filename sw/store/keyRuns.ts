/**
 * Keys of a session's tasks (`[sessionId, taskIdentifier]`) in runs: deleting 1,000 delivered
 * small files' records one request each held up the writes batched with it for 100-300 ms,
 * where a range per run of consecutive identifiers does the same in a few requests.
 */

/** Integers (task identifiers) as the runs of consecutive ones they make, `[first, last]`, ascending. */
export function runsOf(ids: Iterable<number>): [first: number, last: number][] {
  const runs: [number, number][] = [];
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const last = runs.at(-1);
    if (last && id === last[1] + 1) last[1] = id;
    else runs.push([id, id]);
  }
  return runs;
}

/**
 * What selects exactly the tasks `ids` of a session (to read or delete) in a store keyed by
 * `[sessionId, taskIdentifier]`: a key, or a range of consecutive ones (task identifiers are
 * integers).
 */
export function taskKeyRanges(sessionId: string, ids: Iterable<number>): (IDBKeyRange | [string, number])[] {
  return runsOf(ids).map(([first, last]) => (first === last ? [sessionId, first] : IDBKeyRange.bound([sessionId, first], [sessionId, last])));
}
