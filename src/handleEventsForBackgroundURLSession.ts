import { callWorker } from './callWorker.js';

/**
 * The app delegate's `application(_:handleEventsForBackgroundURLSession:completionHandler:)` of
 * Apple's "Downloading files in the background": call it when a page of the app loads.
 * `handler` is called for each session that has events waiting (tasks that ended while no page
 * was open), with the session's identifier and a completion handler. Re-create that session,
 * keep the handler, and call it from the delegate's `didFinishEvents`: the session's launch
 * notification is then closed.
 * @returns the identifiers of the sessions with events waiting.
 */
export async function handleEventsForBackgroundURLSession(handler: (identifier: string, completionHandler: () => void) => void): Promise<string[]> {
  const sessions = await callWorker('pendingSessions');
  for (const identifier of sessions) {
    // Told once, however often the handler is called.
    let told: Promise<void> | undefined;
    handler(identifier, () => void (told ??= callWorker('eventsHandled', identifier)));
  }
  return sessions;
}
