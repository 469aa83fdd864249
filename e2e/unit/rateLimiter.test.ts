import { expect, test } from '@playwright/test';
import { afterWake, FIRST_DELAY_MS, MAX_DELAY_MS, NO_DELAY, notBefore } from '../../sw/rateLimiter.js';

const minute = 60_000;

test('each background wake within the delay doubles it, up to a ceiling', () => {
  let state = afterWake(NO_DELAY, 10 * minute);
  expect(state).toEqual({ delay: FIRST_DELAY_MS, lastWakeAt: 10 * minute });
  state = afterWake(state, 10 * minute + 30_000);
  expect(state.delay).toBe(2 * FIRST_DELAY_MS);
  state = afterWake(state, 11 * minute);
  expect(state.delay).toBe(4 * FIRST_DELAY_MS);
  for (let i = 0; i < 20; i++) state = afterWake(state, state.lastWakeAt + 1000);
  expect(state.delay).toBe(MAX_DELAY_MS);
});

test('a delay that passes without a wake starts over', () => {
  const grown = { delay: 4 * minute, lastWakeAt: 0 };
  expect(afterWake(grown, 5 * minute).delay).toBe(FIRST_DELAY_MS);
  expect(afterWake(grown, 3 * minute).delay).toBe(8 * minute);
});

test('a task started in the background begins when the running delay expires', () => {
  const state = { delay: 2 * minute, lastWakeAt: 10 * minute };
  expect(notBefore(state, 11 * minute)).toBe(12 * minute);
  expect(notBefore(state, 13 * minute)).toBe(13 * minute);
  expect(notBefore(NO_DELAY, 5)).toBe(5);
});
