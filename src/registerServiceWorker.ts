import type { Workbox } from 'workbox-window';

/**
 * Registers the service worker that runs the transfers (through `workbox-window`, loaded only
 * when this is called), for apps that do not register one already. `scriptURL` is the app's
 * own worker calling `installURLSessionWorker()`, or the prebuilt `bgdl-sw.js`.
 * @returns the `Workbox` instance, for the app's update flow.
 */
export async function registerServiceWorker(scriptURL: string | URL, options?: RegistrationOptions): Promise<Workbox> {
  const { Workbox } = await import('workbox-window');
  const workbox = new Workbox(String(scriptURL), options);
  await workbox.register({ immediate: true });
  return workbox;
}
