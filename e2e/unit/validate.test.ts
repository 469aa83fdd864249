import { expect, test } from '@playwright/test';
import * as valid from '../../sw/validate.js';
import { requestOf, requestToSend } from '../../sw/currentRequest.js';

test('only absolute http: and https: URLs pass, and the error quotes the value', () => {
  expect(valid.httpURL('https://example.com/a b')).toBe('https://example.com/a%20b');
  expect(valid.httpURL('http://127.0.0.1:8080/x')).toBe('http://127.0.0.1:8080/x');
  for (const bad of ['ftp://example/x', 'javascript:alert(1)', '/relative', '', 42, null, { href: 'https://x' }]) {
    expect(() => valid.httpURL(bad)).toThrow(TypeError);
    expect(() => valid.httpURL(bad)).toThrow(valid.quote(bad));
  }
});

test('a task init is checked field by field', () => {
  const good = {
    taskIdentifier: 7,
    request: { url: 'https://example.com/f', method: 'get', headers: [['x-a', '1']] },
    taskDescription: 'report',
    countOfBytesClientExpectsToReceive: 0,
    countOfBytesClientExpectsToSend: 0,
    earliestBeginDate: null,
    priority: 0.5,
    resumeData: null,
    body: null,
  };
  expect(valid.taskInit(good)).toEqual({ ...good, request: { ...good.request, method: 'GET' } });
  expect(() => valid.taskInit({ ...good, taskIdentifier: 0 })).toThrow('positive integer');
  expect(() => valid.taskInit({ ...good, taskIdentifier: 1.5 })).toThrow('1.5');
  expect(() => valid.taskInit({ ...good, request: { ...good.request, headers: [['x']] } })).toThrow('[name, value]');
  expect(() => valid.taskInit({ ...good, request: { ...good.request, method: 'GET /' } })).toThrow('"GET /"');
  expect(() => valid.taskInit({ ...good, countOfBytesClientExpectsToReceive: -5 })).toThrow('-5');
  expect(() => valid.taskInit({ ...good, countOfBytesClientExpectsToSend: 'lots' })).toThrow('"lots"');
  expect(() => valid.taskInit({ ...good, priority: 2 })).toThrow('2');
  expect(() => valid.taskInit({ ...good, earliestBeginDate: 'tomorrow' })).toThrow('"tomorrow"');
  expect(() => valid.taskInit({ ...good, body: 'text' })).toThrow('Blob');
  expect(valid.taskInit({ ...good, body: new Blob(['x']) }).body).toBeInstanceOf(Blob);
  expect(() => valid.taskInit(undefined)).toThrow(TypeError);
  expect(() => valid.taskInit('nonsense')).toThrow(TypeError);
});

test('a configuration needs an identifier and boolean flags', () => {
  const good = { identifier: 'MySession', isDiscretionary: false, sessionSendsLaunchEvents: true, retryLimit: 5 };
  const defaults = { allowsExpensiveNetworkAccess: true, allowsConstrainedNetworkAccess: true, streamsWhileVisible: true };
  expect(valid.configuration(good)).toEqual({ ...good, ...defaults });
  expect(valid.configuration({ ...good, title: 'Downloads' })).toEqual({ ...good, ...defaults, title: 'Downloads' });
  expect(valid.configuration({ ...good, allowsExpensiveNetworkAccess: false })).toMatchObject({ allowsExpensiveNetworkAccess: false });
  expect(() => valid.configuration({ ...good, allowsConstrainedNetworkAccess: 'no' })).toThrow('"no"');
  expect(valid.configuration({ ...good, streamsWhileVisible: false })).toMatchObject({ streamsWhileVisible: false });
  expect(() => valid.configuration({ ...good, streamsWhileVisible: 0 })).toThrow('streamsWhileVisible must be a boolean, not 0');
  expect(() => valid.configuration({ ...good, identifier: '' })).toThrow('""');
  expect(() => valid.configuration({ ...good, identifier: 'x'.repeat(257) })).toThrow('256');
  expect(() => valid.configuration({ ...good, isDiscretionary: 'yes' })).toThrow('"yes"');
  expect(() => valid.configuration({ ...good, retryLimit: -1 })).toThrow('-1');
  expect(valid.configuration({ ...good, expectedContentTypes: ['Video/MP4', 'audio/*'] })).toMatchObject({ expectedContentTypes: ['video/mp4', 'audio/*'] });
  expect(valid.configuration({ ...good, expectedContentTypes: null })).toEqual({ ...good, ...defaults });
  expect(() => valid.configuration({ ...good, expectedContentTypes: 'video/mp4' })).toThrow(
    'expectedContentTypes must be a list of media types (type/subtype or type/*), not "video/mp4"',
  );
  expect(() => valid.configuration({ ...good, expectedContentTypes: ['mp4'] })).toThrow('["mp4"]');
});

test("a session's additional headers are name-value pairs, and never the engines' Range or If-Range", () => {
  const good = { identifier: 'MySession', isDiscretionary: false, sessionSendsLaunchEvents: true, retryLimit: 5 };
  const headers: [string, string][] = [
    ['authorization', 'Bearer a'],
    ['x-app', '1'],
  ];
  expect(valid.configuration({ ...good, httpAdditionalHeaders: headers })).toMatchObject({ httpAdditionalHeaders: headers });
  expect(valid.configuration({ ...good, httpAdditionalHeaders: [] })).not.toHaveProperty('httpAdditionalHeaders');
  expect(() => valid.configuration({ ...good, httpAdditionalHeaders: { authorization: 'x' } })).toThrow('not {"authorization":"x"}');
  expect(() => valid.configuration({ ...good, httpAdditionalHeaders: [['range', 'bytes=0-']] })).toThrow('not ["range","bytes=0-"]');
  expect(() => valid.configuration({ ...good, httpAdditionalHeaders: [['If-Range', '"e"']] })).toThrow('Range and If-Range');
});

test('a transfer sends the new request or the original, under the session headers it does not set itself', () => {
  const originalRequest = { url: 'https://cdn.example/a.bin', method: 'GET', headers: [['X-Own', 'task']] as [string, string][] };
  const session = {
    httpAdditionalHeaders: [
      ['authorization', 'Bearer s'],
      ['x-own', 'session'],
    ] as [string, string][],
  };
  expect(requestToSend({ originalRequest }, session)).toEqual({
    ...originalRequest,
    headers: [
      ['authorization', 'Bearer s'],
      ['X-Own', 'task'],
    ],
  });
  expect(requestToSend({ originalRequest }, undefined)).toBe(originalRequest);
  const newRequest = { url: 'https://cdn.example/a.bin?sig=2', method: 'GET', headers: [['Authorization', 'Bearer t']] as [string, string][] };
  expect(requestToSend({ originalRequest, newRequest }, session)).toEqual({
    ...newRequest,
    headers: [
      ['x-own', 'session'],
      ['Authorization', 'Bearer t'],
    ],
  });
  expect(requestOf({ originalRequest, newRequest })).toBe(newRequest);
  expect(requestOf({ originalRequest, newRequest, currentRequest: originalRequest })).toBe(originalRequest);
});
