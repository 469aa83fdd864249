import { expect, test } from '@playwright/test';
import { headerPairs, responseRecord, suggestedFilename, upgradeResponse } from '../../sw/responseRecord.js';

test('a response record holds what the page shows: length and MIME type from the headers, the headers as the JSON of their pairs', () => {
  const response = new Response('hello', { status: 200, statusText: 'OK', headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '5' } });
  const record = responseRecord(response, 'https://example.com/a');
  expect(record).toMatchObject({
    url: 'https://example.com/a',
    status: 200,
    statusText: 'OK',
    expectedContentLength: 5,
    mimeType: 'text/plain',
  });
  expect(headerPairs(record.headers)).toEqual([
    ['content-length', '5'],
    ['content-type', 'text/plain; charset=utf-8'],
  ]);
  expect(upgradeResponse(record)).toEqual(record);
});

test('headers that are not the JSON of pairs of strings are refused with a TypeError quoting them', () => {
  for (const bad of ['', 'nope', '{}', '[["a"]]', '[["a",1]]', '[[null,"b"]]']) expect(() => headerPairs(bad)).toThrow(TypeError);
  expect(() => headerPairs('[["a",1]]')).toThrow('[["a",1]]');
  expect(() => upgradeResponse({ url: 'https://example.com/', status: 200, statusText: '', headers: '[[' })).toThrow(TypeError);
});

test('a record kept by an older version (header pairs, no length, no MIME type) gets them; unknown ones are -1 and null', () => {
  const old = {
    url: 'https://example.com/b',
    status: 200,
    statusText: 'OK',
    headers: [
      ['content-length', '1048576'],
      ['content-type', 'application/zip'],
    ] as [string, string][],
  };
  expect(upgradeResponse(old)).toEqual({ ...old, headers: JSON.stringify(old.headers), expectedContentLength: 1048576, mimeType: 'application/zip' });
  expect(upgradeResponse({ ...old, headers: [] })).toMatchObject({ headers: '[]', expectedContentLength: -1, mimeType: null });
});

test('suggestedFilename: Content-Disposition first (filename* over filename), then the URL, never a path', () => {
  const name = (url: string, disposition?: string) =>
    suggestedFilename({ url, headers: JSON.stringify(disposition ? [['content-disposition', disposition]] : []) });
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
