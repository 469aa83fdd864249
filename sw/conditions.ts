import type { ConfigurationRecord, TaskRecord } from '../common/schema.js';

declare const self: ServiceWorkerGlobalScope;

/** What `navigator.connection` tells, where the browser has it. */
interface Connection {
  saveData?: boolean;
  effectiveType?: string;
  type?: string;
}

/** Whether a window of the app is visible now. */
export async function isAppVisible(): Promise<boolean> {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return windows.some((window) => window.visibilityState === 'visible');
}

/**
 * Why a task cannot start now, or null if it can. Every task keeps to the configuration's
 * `allowsExpensiveNetworkAccess` and `allowsConstrainedNetworkAccess`; a discretionary task
 * also waits for good conditions: online, no Save-Data, not a 2G-class connection.
 */
export function waitingReason(configuration: ConfigurationRecord | undefined, task: TaskRecord): string | null {
  const connection = (navigator as WorkerNavigator & { connection?: Connection }).connection;
  if (configuration?.allowsConstrainedNetworkAccess === false && connection?.saveData) return 'constrained network (Save-Data)';
  if (configuration?.allowsExpensiveNetworkAccess === false && connection?.type === 'cellular') return 'expensive network (cellular)';
  if (!task.discretionary) return null;
  if (!navigator.onLine) return 'offline';
  if (connection?.saveData) return 'Save-Data';
  if (connection?.effectiveType === 'slow-2g' || connection?.effectiveType === '2g') return `slow connection (${connection.effectiveType})`;
  return null;
}
