import { expect, test } from '@playwright/test';
import { responseRecord, withResponseFields } from '../../sw/responseRecord.js';

test('a response record holds what the page shows: length and MIME type from the headers', () => {
  const response = new Response('hello', { status: 200, statusText: 'OK', headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '5' } });
  expect(responseRecord(response, 'https://example.com/a')).toMatchObject({
    url: 'https://example.com/a',
    status: 200,
    statusText: 'OK',
    expectedContentLength: 5,
    mimeType: 'text/plain',
  });
});

test('a record kept by an older version (no length, no MIME type) gets them; unknown ones are -1 and null', () => {
  const old = {
    url: 'https://example.com/b',
    status: 200,
    statusText: 'OK',
    headers: [
      ['content-length', '1048576'],
      ['content-type', 'application/zip'],
    ] as [string, string][],
  };
  expect(withResponseFields(old)).toEqual({ ...old, expectedContentLength: 1048576, mimeType: 'application/zip' });
  expect(withResponseFields({ ...old, headers: [] })).toMatchObject({ expectedContentLength: -1, mimeType: null });
});
