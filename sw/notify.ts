import { NOTICE_CHANNEL, type Notice } from '../common/protocol.js';

/**
 * How often, at most, a session's `changed` notice goes out. Every page drains on one (it asks
 * the worker for the session's tasks and events): with many tasks ending, a notice per task
 * made the pages drain all the time, and the drains took the worker's time from the transfers.
 */
const CHANGED_INTERVAL_MS = 100;

let channel: BroadcastChannel | undefined;
/** Sessions whose `changed` notice went out less than the interval ago: whether another is due. */
const recent = new Map<string, boolean>();
/** The same, of `standby` notices. */
const recentStandby = new Map<string, boolean>();

/**
 * Tells every open page of the origin that something of a session changed. A `changed` notice
 * goes out at once, then at most one per `CHANGED_INTERVAL_MS` (the last one always goes). A
 * `standby` one (a streamed part stored: only the pages' standby orders changed) is held back
 * apart, so that it never holds up the notice of an event (a completion waited up to 100 ms).
 */
export function notify(notice: Notice, standby = false): void {
  channel ??= new BroadcastChannel(NOTICE_CHANNEL);
  if (notice.type !== 'changed') return channel.postMessage(notice);
  const { sessionId } = notice;
  const held = standby ? recentStandby : recent;
  const post = () => {
    channel!.postMessage(notice);
    // The pages read every change on it: a standby notice due is no longer.
    if (!standby && recentStandby.get(sessionId)) recentStandby.set(sessionId, false);
  };
  if (held.has(sessionId)) return void held.set(sessionId, true);
  post();
  held.set(sessionId, false);
  const later = () => {
    if (!held.get(sessionId)) return void held.delete(sessionId);
    held.set(sessionId, false);
    post();
    setTimeout(later, CHANGED_INTERVAL_MS);
  };
  setTimeout(later, CHANGED_INTERVAL_MS);
}
