import { expect, test } from '@playwright/test';
import { filePartOwner, isFilePart, partFileName, partKeys, temporaryKey } from '../../common/cacheKeys.js';
import { isWriterReport } from '../../common/writerProtocol.js';

test("a page's writer's well-formed reports are taken", () => {
  for (const report of [
    { type: 'hello', lock: 'bgdl-writer:1' },
    { type: 'responded', id: 'w', status: 206, redirected: false },
    { type: 'progress', id: 'w', received: 0 },
    { type: 'part', id: 'w', index: 3, end: 33554432 },
    { type: 'done', id: 'w', end: 75497472, complete: true },
    { type: 'failed', id: 'w', name: 'QuotaExceededError', message: 'no room' },
    { type: 'failed', id: 'w', name: 'UnexpectedResponse', message: 'HTTP 416', status: 416 },
  ]) {
    expect(isWriterReport(report), JSON.stringify(report)).toBe(true);
  }
});

test("anything else on a writer's port is not a report", () => {
  for (const data of [
    null,
    'part',
    { type: 'hello' },
    { type: 'part', index: 1, end: 2 },
    { type: 'part', id: 'w', index: -1, end: 2 },
    { type: 'part', id: 'w', index: 1.5, end: 2 },
    { type: 'part', id: 'w', index: 1, end: '2' },
    { type: 'progress', id: 'w', received: 1e300 },
    { type: 'done', id: 'w', end: 5, complete: 'yes' },
    { type: 'failed', id: 'w', name: 'Error' },
    { type: 'failed', id: 'w', name: 'Error', message: 'm', status: -1 },
    { type: 'responded', id: 'w', status: 200 },
    { type: 'write', id: 'w' },
  ]) {
    expect(isWriterReport(data), JSON.stringify(data)).toBe(false);
  }
});

test("a writer's parts are told apart from the worker's by their owner, and named as one file each", () => {
  const keys = partKeys({ sessionId: 's/1', taskIdentifier: 7, parts: 3, partsBy: ['t1', filePartOwner('t2'), filePartOwner('t2')] });
  expect(keys.map(isFilePart)).toEqual([false, true, true]);
  expect(isFilePart(temporaryKey('file:', 7, 0, 't1'))).toBe(false); // a session named so is not a writer
  expect(partFileName(keys[1]!)).not.toContain('/');
  expect(decodeURIComponent(partFileName(keys[1]!))).toBe(keys[1]);
});
