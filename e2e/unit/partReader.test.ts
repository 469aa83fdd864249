import { expect, test } from '@playwright/test';
import { BufferPool, PartReader } from '../../sw/engines/stream/PartReader.js';

/** A byte stream whose pieces the test enqueues, as the network delivers them. */
function network(): { body: ReadableStream<Uint8Array>; deliver: (bytes: number) => void; end: () => void } {
  let controller!: ReadableByteStreamController;
  const body = new ReadableStream({ type: 'bytes', start: (c) => void (controller = c) }) as ReadableStream<Uint8Array>;
  let next = 0;
  const deliver = (bytes: number) => controller.enqueue(Uint8Array.from({ length: bytes }, () => next++ % 251));
  // A read under way when the body ends is answered with no bytes, as a byte source must.
  const end = () => (controller.close(), controller.byobRequest?.respond(0));
  return { body, deliver, end };
}

const KiB = 1024;
const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

test('a read fills its whole buffer from the pieces the network delivers', async () => {
  const { body, deliver } = network();
  const reader = new PartReader(body, new BufferPool(256 * KiB));
  const reading = reader.read(256 * KiB);
  for (let i = 0; i < 4; i++) (deliver(64 * KiB), await tick());
  const chunk = (await reading)!;
  expect(chunk.byteLength).toBe(256 * KiB);
  expect(chunk[255]).toBe(255 % 251);
});

test('stopped, a read under way gives the bytes it has with the next piece, and no read begins after', async () => {
  const { body, deliver } = network();
  const reader = new PartReader(body, new BufferPool(1024 * KiB));
  const stop = new AbortController();
  const reading = reader.read(1024 * KiB, stop.signal);
  deliver(100 * KiB);
  await tick();
  stop.abort();
  deliver(50 * KiB);
  const chunk = (await reading)!;
  // Every byte received is kept: none of them would be fetched again.
  expect(chunk.byteLength).toBe(150 * KiB);
  expect([...chunk.subarray(0, 3)]).toEqual([0, 1, 2]);
  expect(await reader.read(1024 * KiB, stop.signal)).toBeUndefined();
});

test('a body that ends mid-buffer gives what came, then the end', async () => {
  const { body, deliver, end } = network();
  const reader = new PartReader(body, new BufferPool(256 * KiB));
  const reading = reader.read(256 * KiB);
  deliver(10 * KiB);
  await tick();
  end();
  expect((await reading)!.byteLength).toBe(10 * KiB);
  expect(reader.done).toBe(true);
  expect(await reader.read(256 * KiB)).toBeUndefined();
});
