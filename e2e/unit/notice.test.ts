import { expect, test } from '@playwright/test';
import { isNotice } from '../../common/protocol.js';

test('well-formed notices are taken', () => {
  expect(isNotice({ type: 'changed', sessionId: 's' })).toBe(true);
  expect(isNotice({ type: 'progress', sessionId: 's', taskIdentifier: 7, received: 10, expected: -1 })).toBe(true);
  expect(isNotice({ type: 'sent', sessionId: 's', taskIdentifier: 7, sent: 0, expected: 100 })).toBe(true);
});

test('anything else posted on the channel is not a notice', () => {
  for (const data of [
    null,
    'changed',
    { type: 'changed' },
    { type: 'changed', sessionId: 42 },
    { type: 'progress', sessionId: 's', taskIdentifier: 7, received: '10', expected: 100 },
    { type: 'progress', sessionId: 's', taskIdentifier: 7, received: -5, expected: 100 },
    { type: 'progress', sessionId: 's', taskIdentifier: 0, received: 5, expected: 100 },
    { type: 'sent', sessionId: 's', taskIdentifier: 7, sent: 1e300, expected: 100 },
    { type: 'progress', sessionId: 's', taskIdentifier: 7, received: 5, expected: -2 },
    { type: 'other', sessionId: 's', taskIdentifier: 7, received: 5, expected: 5 },
  ]) {
    expect(isNotice(data), JSON.stringify(data)).toBe(false);
  }
});
