// @ts-check
/**
 * The worker's outbox as it is stored (IndexedDB `bgdl`, store `events`), read in a page of
 * the app or in its worker, for the tests and the bench that check what the worker kept. A
 * function for Playwright's `evaluate`: it uses nothing from its module.
 */

/**
 * The events stored for the session `sessionId`, in order.
 * @param {string} sessionId
 * @returns {Promise<{ sessionId: string, type: string, taskIdentifier: number, seq: number, download?: unknown }[]>}
 */
export function storedEvents(sessionId) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('bgdl');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const request = open.result.transaction('events').objectStore('events').getAll();
      request.onsuccess = () => {
        open.result.close();
        resolve(request.result.filter((/** @type {{ sessionId: string }} */ event) => event.sessionId === sessionId));
      };
    };
  });
}
