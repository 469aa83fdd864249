import type { ResponseRecord } from '../common/schema.js';

/** What a task keeps of a response. */
export function responseRecord(response: Response, url: string): ResponseRecord {
  return {
    url: response.url || url,
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
  };
}
