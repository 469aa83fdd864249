import type { ConfigurationRecord } from '../common/schema.js';

declare const self: ServiceWorkerGlobalScope;

/** The tag of a session's launch notification. */
const tagOf = (sessionId: string) => `bgdl:${sessionId}`;

/** Brings the user back to the app: focuses one of its windows, or opens `url` (default: the scope). */
export async function openApp(url: string = self.registration.scope): Promise<void> {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((window) => window.url === url) ?? windows[0];
  if (open) await open.focus();
  else await self.clients.openWindow(url);
}

/** The notifications permission as the Permissions API keeps it current, once it answered. */
let status: PermissionStatus | undefined;
let asked = false;

/**
 * Whether notifications may be shown. `Notification.permission` is a synchronous call to the
 * browser in a worker: read on each of 1,000 completions (in the batched transaction), it held
 * up the worker and the database. The Permissions API's status, kept current by the browser
 * (while it has a `change` listener), is read instead once it has answered.
 */
export function notificationsGranted(): boolean {
  if (!asked) {
    asked = true;
    navigator.permissions?.query({ name: 'notifications' }).then(
      (answer) => {
        answer.addEventListener('change', () => undefined);
        status = answer;
      },
      () => undefined,
    );
  }
  return (status ? status.state : Notification.permission) === 'granted';
}

/**
 * Tells the user that a session's tasks ended while no page of the app was visible, so that
 * they can be brought back (`sessionSendsLaunchEvents`): a notification, where permission was
 * granted. Background Fetch shows its own; this is for the streaming engine.
 */
export async function announce(configuration: ConfigurationRecord | undefined, finished: number): Promise<void> {
  if (!configuration?.sessionSendsLaunchEvents || !notificationsGranted()) return;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  if (windows.some((window) => window.visibilityState === 'visible')) return;
  const options: NotificationOptions = {
    tag: tagOf(configuration.identifier),
    body: `${finished} ${finished === 1 ? 'task' : 'tasks'} finished`,
    data: { bgdl: configuration.identifier, url: configuration.launchURL ?? self.registration.scope },
  };
  if (configuration.icon) options.icon = configuration.icon;
  await self.registration.showNotification(configuration.title ?? 'Downloads finished', options);
}

/** Closes a session's launch notification: its events have been handled. */
export async function dismiss(sessionId: string): Promise<void> {
  for (const notification of await self.registration.getNotifications({ tag: tagOf(sessionId) })) notification.close();
}

/** Opens the app when one of the library's notifications is clicked; leaves others alone. */
export function onNotificationClick(event: NotificationEvent): void {
  const data = event.notification.data as { bgdl?: string; url?: string } | null;
  if (typeof data?.bgdl !== 'string') return;
  event.notification.close();
  event.waitUntil(openApp(data.url));
}
