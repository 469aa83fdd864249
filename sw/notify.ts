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

/**
 * Tells every open page of the origin that something of a session changed. A `changed` notice
 * goes out at once, then at most one per `CHANGED_INTERVAL_MS` (the last one always goes).
 */
export function notify(notice: Notice): void {
  channel ??= new BroadcastChannel(NOTICE_CHANNEL);
  if (notice.type !== 'changed') return channel.postMessage(notice);
  const { sessionId } = notice;
  if (recent.has(sessionId)) return void recent.set(sessionId, true);
  channel.postMessage(notice);
  recent.set(sessionId, false);
  const later = () => {
    if (!recent.get(sessionId)) return void recent.delete(sessionId);
    recent.set(sessionId, false);
    channel!.postMessage(notice);
    setTimeout(later, CHANGED_INTERVAL_MS);
  };
  setTimeout(later, CHANGED_INTERVAL_MS);
}
