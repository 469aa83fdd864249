import { expect, test } from '@playwright/test';
import { responseRecord, suggestedFilename, withResponseFields } from '../../sw/responseRecord.js';

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

test('suggestedFilename: Content-Disposition first (filename* over filename), then the URL, never a path', () => {
  const name = (url: string, disposition?: string) => suggestedFilename({ url, headers: disposition ? [['content-disposition', disposition]] : [] });
  expect(name('https://cdn.example/models/weights.bin?sig=1')).toBe('weights.bin');
  expect(name('https://cdn.example/a/b%20c.mp4')).toBe('b c.mp4');
  expect(name('https://cdn.example/x', 'attachment; filename="report 2026.pdf"')).toBe('report 2026.pdf');
  expect(name('https://cdn.example/x', 'attachment; filename=plain.txt')).toBe('plain.txt');
  expect(name('https://cdn.example/x', `attachment; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt`)).toBe('€ rates.txt');
  expect(name('https://cdn.example/x', 'attachment; filename="../../etc/passwd"')).toBe('.._.._etc_passwd');
  expect(name('https://cdn.example/x', 'attachment; filename="a\\"b.txt"')).toBe('a"b.txt');
  expect(name('https://cdn.example/')).toBe('download');
  expect(name('https://cdn.example/dir/..', 'inline')).toBe('download');
  expect(name('not a url')).toBe('download');
});
