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
  return (await appWindows(except)).visible;
}

/** Whether a window of the app (other than the client `except`) is visible, and whether one is open. */
export async function appWindows(except?: string): Promise<{ visible: boolean; open: boolean }> {
  const windows = (await self.clients.matchAll({ type: 'window', includeUncontrolled: true })).filter((window) => window.id !== except);
  return { visible: windows.some((window) => window.visibilityState === 'visible'), open: windows.length > 0 };
}

/** The network as the worker sees it now. */
export function network(): Network {
  const connection = (navigator as WorkerNavigator & { connection?: Connection }).connection;
  return { online: navigator.onLine, saveData: connection?.saveData, effectiveType: connection?.effectiveType, type: connection?.type };
}
