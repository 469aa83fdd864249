import { expect, test } from '@playwright/test';
import { NOTICE_CHANNEL } from '../../common/protocol.js';
import { notify } from '../../sw/notify.js';

/** The `changed` notices of session `sessionId` a page hears, with when (ms after `start`). */
function listen(sessionId: string, start: number): { heard: number[]; close: () => void } {
  const page = new BroadcastChannel(NOTICE_CHANNEL);
  const heard: number[] = [];
  page.onmessage = ({ data }: MessageEvent<{ type: string; sessionId: string }>) => {
    if (data.sessionId === sessionId && data.type === 'changed') heard.push(Date.now() - start);
  };
  return { heard, close: () => page.close() };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a completion's notice goes out at once, even just after a stored part's (standby) notice", async () => {
  const start = Date.now();
  const page = listen('standby-then-event', start);
  notify({ type: 'changed', sessionId: 'standby-then-event' }, true);
  await sleep(20);
  notify({ type: 'changed', sessionId: 'standby-then-event' });
  await sleep(300);
  page.close();
  expect(page.heard).toHaveLength(2);
  // The second came with its call (20 ms in), not at the end of the first one's 100 ms.
  expect(page.heard[1]).toBeLessThan(90);
});

test('many changes make one notice at once, then at most one per 100 ms, and the last change is told', async () => {
  const start = Date.now();
  const page = listen('many', start);
  for (let i = 0; i < 30; i++) {
    notify({ type: 'changed', sessionId: 'many' });
    await sleep(10);
  }
  await sleep(300);
  page.close();
  // 300 ms of changes: the first at once, then about one per 100 ms, and one after the last.
  expect(page.heard.length).toBeGreaterThanOrEqual(3);
  expect(page.heard.length).toBeLessThanOrEqual(5);
  expect(page.heard.at(-1)).toBeGreaterThanOrEqual(290);
});

test('a standby notice due is dropped once a change is told: the pages read every change then', async () => {
  const start = Date.now();
  const page = listen('standby-dropped', start);
  notify({ type: 'changed', sessionId: 'standby-dropped' }, true);
  notify({ type: 'changed', sessionId: 'standby-dropped' }, true); // due at 100 ms
  notify({ type: 'changed', sessionId: 'standby-dropped' }); // tells it now
  await sleep(300);
  page.close();
  expect(page.heard).toHaveLength(2);
});
