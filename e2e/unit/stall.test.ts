import { expect, test } from '@playwright/test';
import { Stall } from '../../sw/engines/background-fetch/Stall.js';

test('a registration receiving nothing for the timeout is stalled', () => {
  const stall = new Stall(10_000);
  expect(stall.seen(100, 0, true)).toBe(false);
  expect(stall.seen(100, 9_999, true)).toBe(false);
  expect(stall.seen(100, 10_000, true)).toBe(true);
});

test('bytes received start the wait again', () => {
  const stall = new Stall(10_000);
  stall.seen(100, 0, true);
  expect(stall.seen(200, 9_000, true)).toBe(false);
  expect(stall.seen(200, 18_000, true)).toBe(false);
  expect(stall.seen(200, 19_000, true)).toBe(true);
});

test('a registration not started yet, or offline, is not stalled', () => {
  const waiting = new Stall(10_000);
  expect(waiting.seen(0, 0, true)).toBe(false);
  expect(waiting.seen(0, 60_000, true)).toBe(false);
  const offline = new Stall(10_000);
  offline.seen(100, 0, true);
  expect(offline.seen(100, 30_000, false)).toBe(false);
  expect(offline.seen(100, 39_000, true)).toBe(false);
  expect(offline.seen(100, 40_000, true)).toBe(true);
});
