/// <reference path="./worker-imports.d.ts" />
/**
 * This page's writer (`sw/writer`): a dedicated worker, made once, that writes large downloads
 * through sync access handles while the page is visible. Each `connect` gives the service
 * worker a new port to it: a worker that stopped and started again has lost the ports before.
 */
import { transfer } from 'comlink';
import Writer from '../sw/writer/writer.ts?worker&inline';
import type { callWorker } from './connection.js';

/** How long a new writer has to say it can write before the page does without one. */
const READY_MS = 2000;

/** This page's writer, once it said it can write; undefined if it cannot (no sync access handles, a CSP that refuses `blob:` workers). */
let ready: Promise<Worker | undefined> | undefined;

/** Makes the writer and waits for it to say whether it can write. */
function start(): Promise<Worker | undefined> {
  return new Promise((resolve) => {
    const worker = new Writer({ name: 'bgdl-writer' });
    const timer = setTimeout(() => end(false), READY_MS);
    const end = (can: boolean) => {
      clearTimeout(timer);
      if (!can) worker.terminate();
      resolve(can ? worker : undefined);
    };
    worker.onmessage = ({ data }) => end(data === 'bgdl:writer-ready');
    worker.onerror = () => end(false);
  });
}

/**
 * Gives the service worker a port to this page's writer (made at the first call), through
 * `call` (the entry's `callWorker`: this chunk, loaded lazily, has no copy of its own).
 */
export async function connect(call: typeof callWorker): Promise<void> {
  const writer = await (ready ??= start());
  if (!writer) return;
  const { port1, port2 } = new MessageChannel();
  writer.postMessage('bgdl:writer', [port1]);
  await call('connectWriter', transfer(port2, [port2]));
}
