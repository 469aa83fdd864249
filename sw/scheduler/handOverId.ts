/**
 * A hand-over's registration id: the streamed transfer's it takes over, and the parts and bytes
 * it starts after (`bgdl:…+parts+received`), so that the worker knows the registration a page
 * started as it went away even if the page's message to it was lost.
 */

/** Matches a hand-over's registration id. */
const HAND_OVER_ID = /^(bgdl:[\w-]{1,64})\+(\d{1,6})\+(\d{1,16})$/;

/** Where a hand-over starts: after `parts` parts, `received` bytes, of the streamed transfer `from`. */
export interface HandOverPoint {
  from: string;
  parts: number;
  received: number;
}

/** The registration id of a hand-over from a point. */
export function handOverId({ from, parts, received }: HandOverPoint): string {
  return `${from}+${parts}+${received}`;
}

/** The point a hand-over's registration id names, or undefined if it names none. */
export function parseHandOverId(id: unknown): HandOverPoint | undefined {
  const match = typeof id === 'string' ? HAND_OVER_ID.exec(id) : null;
  return match ? { from: match[1]!, parts: Number(match[2]), received: Number(match[3]) } : undefined;
}
