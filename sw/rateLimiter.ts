/**
 * The rate limiter of Apple's background sessions: each time the app is woken in the background
 * the delay grows, and a task started while the app is in the background does not begin before
 * the delay expires. The delay goes back to zero when a page of the app is visible, or when it
 * passes without a wake.
 */
import type { RateLimiterState } from '../common/schema.js';

/** The delay after a first wake, and its ceiling. */
export const FIRST_DELAY_MS = 60_000;
export const MAX_DELAY_MS = 60 * 60_000;

/** No delay: a fresh app, or one the user has brought to the foreground. */
export const NO_DELAY: RateLimiterState = { delay: 0, lastWakeAt: 0 };

/** The state after the app was woken in the background at `now`. */
export function afterWake(state: RateLimiterState, now: number): RateLimiterState {
  const lapsed = now - state.lastWakeAt >= state.delay;
  const delay = lapsed || state.delay === 0 ? FIRST_DELAY_MS : Math.min(state.delay * 2, MAX_DELAY_MS);
  return { delay, lastWakeAt: now };
}

/** When a task started in the background at `now` may begin (now, if no delay is running). */
export function notBefore(state: RateLimiterState, now: number): number {
  return Math.max(now, state.lastWakeAt + state.delay);
}
