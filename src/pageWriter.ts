/// <reference path="./worker-imports.d.ts" />
/**
 * This page's writer (`sw/writer`): a dedicated worker, made once, that writes large downloads
 * through sync access handles while the page is visible. Each `connect` gives the service
 * worker a new port to it: a worker that stopped and started again has lost the ports before.
 */
import { transfer } from 'comlink';
import Writer from '../sw/writer/writer.ts?worker&inline';
import type { callWorker } from './connection.js';

let writer: Worker | undefined;

/**
 * Gives the service worker a port to this page's writer (made at the first call), through
 * `call` (the entry's `callWorker`: this chunk, loaded lazily, has no copy of its own).
 */
export async function connect(call: typeof callWorker): Promise<void> {
  writer ??= new Writer({ name: 'bgdl-writer' });
  const { port1, port2 } = new MessageChannel();
  writer.postMessage('bgdl:writer', [port1]);
  await call('connectWriter', transfer(port2, [port2]));
}
