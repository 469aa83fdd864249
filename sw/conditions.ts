import type { Network } from './scheduler/plan.js';

declare const self: ServiceWorkerGlobalScope;

/** What `navigator.connection` tells, where the browser has it. */
interface Connection {
  saveData?: boolean;
  effectiveType?: string;
  type?: string;
}

/** Whether a window of the app is visible now (other than the client `except`, if given). */
export async function isAppVisible(except?: string): Promise<boolean> {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return windows.some((window) => window.visibilityState === 'visible' && window.id !== except);
}

/** The network as the worker sees it now. */
export function network(): Network {
  const connection = (navigator as WorkerNavigator & { connection?: Connection }).connection;
  return { online: navigator.onLine, saveData: connection?.saveData, effectiveType: connection?.effectiveType, type: connection?.type };
}
