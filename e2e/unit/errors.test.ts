import { expect, test } from '@playwright/test';
import { deserializeError, serializeError, URLError } from '../../common/errors.js';
import { partKeys, partOwners, permanentKey, permanentName, temporaryFolder, temporaryKey } from '../../common/cacheKeys.js';

test('a URLError survives structured cloning with its class, name, code and status', () => {
  const error = new URLError('badServerResponse', 'HTTP 404 for https://x/y', 404);
  const back = deserializeError(structuredClone(serializeError(error)));
  expect(back).toBeInstanceOf(URLError);
  expect(back).toMatchObject({ name: 'URLError', code: 'badServerResponse', status: 404, message: 'HTTP 404 for https://x/y' });
  expect(back.stack).toBe(error.stack);
});

test('other errors keep their name and class where it is a standard one', () => {
  expect(deserializeError(serializeError(new TypeError('bad')))).toBeInstanceOf(TypeError);
  const quota = deserializeError(serializeError(new DOMException('full', 'QuotaExceededError')));
  expect(quota).toMatchObject({ name: 'QuotaExceededError', message: 'full' });
  // As the browser gives it: a page tells a full disk by `instanceof DOMException` and its name.
  expect(quota).toBeInstanceOf(DOMException);
  expect(deserializeError(serializeError('a string'))).toMatchObject({ name: 'Error', message: 'a string' });
});

test('permanent-store keys round-trip any file name, and temporary keys are not names', () => {
  for (const name of ['report.pdf', 'a/b c?d#e', 'ünïcødé', '..', '.', '%2e%2E']) {
    expect(permanentName(new URL(permanentKey(name), 'https://app.example').href)).toBe(name);
  }
  expect(permanentName(new URL(temporaryKey('s', 1, 0), 'https://app.example').href)).toBeNull();
  expect(temporaryKey('a/b', 3, 0)).toBe('/__bgdl__/tmp/~a%2Fb/3/0');
  expect(new URL(temporaryKey('..', 3, 1), 'https://app.example').pathname).toBe('/__bgdl__/tmp/~../3/1');
});

test('a part key carries the transfer that wrote it: two transfers of one task never share a key', () => {
  expect(temporaryKey('s', 3, 0, 'bgdl:a')).not.toBe(temporaryKey('s', 3, 0, 'bgdl:b'));
  expect(temporaryKey('s', 3, 0, 'bgdl:a').startsWith(temporaryFolder('s', 3))).toBe(true);
  // A task stored before version 5 names no writer: its keys are as they were.
  expect(partKeys({ sessionId: 's', taskIdentifier: 3, parts: 2 })).toEqual(['/__bgdl__/tmp/~s/3/0', '/__bgdl__/tmp/~s/3/1']);
  // A transfer that continues after kept parts writes its own under its name.
  expect(partKeys({ sessionId: 's', taskIdentifier: 3, parts: 2, partsBy: ['', 'bgdl:b'] })).toEqual([
    '/__bgdl__/tmp/~s/3/0',
    '/__bgdl__/tmp/~s/3/~bgdl%3Ab/1',
  ]);
  expect(partOwners({ partsBy: ['x'] }, 3)).toEqual(['x', '', '']);
});
