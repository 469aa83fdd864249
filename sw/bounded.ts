/**
 * Maps `items` through `each`, at most `limit` at a time, and returns the results in the
 * items' order: for work on many tasks that would swamp the network or the disk all at once.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, each: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await each(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
