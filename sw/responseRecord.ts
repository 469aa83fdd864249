import type { ResponseRecord } from '../common/schema.js';

/** What a task keeps of a response. */
export function responseRecord(response: Response, url: string): ResponseRecord {
  return withResponseFields({
    url: response.url || url,
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
  });
}

/**
 * A response record with what the page shows of it (`expectedContentLength`, `mimeType`),
 * from its headers: for new records, and for those kept by an older version.
 */
export function withResponseFields(record: Omit<ResponseRecord, 'expectedContentLength' | 'mimeType'>): ResponseRecord {
  const headers = new Headers(record.headers);
  return {
    ...record,
    expectedContentLength: Number(headers.get('Content-Length') ?? -1),
    mimeType: headers.get('Content-Type')?.split(';')[0]!.trim() ?? null,
  };
}
