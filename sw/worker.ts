/**
 * The prebuilt worker, for apps that have no service worker of their own: register
 * `bgdl-sw.js` (or copy it as your `sw.js`) and nothing else is needed. Registered as
 * `bgdl-sw.js?serveDocuments`, it also answers `documents.url()` (see `WorkerOptions`).
 */
import { installURLSessionWorker } from './install.js';

declare const self: ServiceWorkerGlobalScope;

installURLSessionWorker({ serveDocuments: new URL(self.location.href).searchParams.has('serveDocuments') });
self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
