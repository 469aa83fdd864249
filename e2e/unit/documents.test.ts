import { expect, test } from '@playwright/test';
import { documentName, documentPath } from '../../common/cacheKeys.js';
import { byteRange } from '../../sw/documents.js';
import { keptParts, keptSize, PARTS, SIZE } from '../../common/documentFile.js';
import { keptKey, permanentName } from '../../common/cacheKeys.js';

test('byteRange reads one range as RFC 9110 does: whole file, a slice, or past the end', () => {
  expect(byteRange(null, 100)).toBeUndefined();
  expect(byteRange('bytes=10-19', 100)).toEqual({ first: 10, last: 19 });
  expect(byteRange('bytes=90-', 100)).toEqual({ first: 90, last: 99 });
  expect(byteRange('bytes=90-1000', 100)).toEqual({ first: 90, last: 99 });
  expect(byteRange('bytes=-10', 100)).toEqual({ first: 90, last: 99 });
  expect(byteRange('bytes=-1000', 100)).toEqual({ first: 0, last: 99 });
  // Past the end, or nothing: 416.
  expect(byteRange('bytes=100-', 100)).toBeNull();
  expect(byteRange('bytes=-0', 100)).toBeNull();
  expect(byteRange('bytes=0-', 0)).toBeNull();
  // Not one range this reads: the whole file.
  expect(byteRange('bytes=0-1,5-6', 100)).toBeUndefined();
  expect(byteRange('bytes=20-10', 100)).toBeUndefined();
  expect(byteRange('bytes=-', 100)).toBeUndefined();
  expect(byteRange('items=0-1', 100)).toBeUndefined();
});

test('a stored file is served under any scope, its name one path segment', () => {
  const path = documentPath('my video/1.mp4');
  expect(path).toBe('__bgdl__/files/~my%20video%2F1.mp4');
  expect(documentName(new URL(path, 'https://app.example/pwa/').pathname)).toBe('my video/1.mp4');
  expect(documentName('/__bgdl__/files/~a/b')).toBeNull();
  expect(documentName('/__bgdl__/files/~%E0%A4%A')).toBeNull();
  expect(documentName('/other/path')).toBeNull();
});

test("a kept file's entry names its parts by folder and count; an entry with the bytes names none", () => {
  const entry = new Response(null, { headers: { [PARTS]: `${encodeURIComponent('a/b')}/3`, [SIZE]: '20971520' } });
  expect(keptParts(entry)).toEqual([keptKey('a/b', 0), keptKey('a/b', 1), keptKey('a/b', 2)]);
  expect(keptSize(entry)).toBe(20971520);
  const whole = new Response('abc', { headers: { 'Content-Length': '3' } });
  expect(keptParts(whole)).toBeNull();
  expect(keptSize(whole)).toBe(3);
  expect(keptParts(new Response(null, { headers: { [PARTS]: 'no count' } }))).toBeNull();
  // Kept parts are not files of the store.
  expect(permanentName(new URL(keptKey('x', 0), 'https://app.example').href)).toBeNull();
});
