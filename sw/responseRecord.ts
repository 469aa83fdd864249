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

/**
 * The name a response suggests for its file, as `URLResponse.suggestedFilename`: the
 * `Content-Disposition` filename (`filename*` first) where the headers show it (CORS may hide
 * it), else the URL's last path segment, else `'download'`. Never a path: separators and
 * control characters become `_`.
 */
export function suggestedFilename(response: Pick<ResponseRecord, 'url' | 'headers'>): string {
  // Found in the pairs rather than through a Headers: a page re-attaching 1,000 tasks asks 1,000 names.
  const disposition = response.headers.find(([name]) => name.toLowerCase() === 'content-disposition')?.[1] ?? '';
  const extended = /filename\*\s*=\s*(?:UTF-8|ISO-8859-1)?'[^']*'([^;\s]+)/i.exec(disposition)?.[1];
  const plain = /(?:^|;)\s*filename\s*=\s*(?:"((?:\\.|[^"\\])*)"|([^;\s]+))/i.exec(disposition);
  let segment = '';
  try {
    segment = new URL(response.url).pathname.split('/').at(-1) ?? '';
  } catch {
    // Not a URL: no segment.
  }
  const names = [extended, plain?.[1]?.replace(/\\(.)/g, '$1'), plain?.[2], segment];
  for (const name of names) {
    const decoded =
      name &&
      safeDecode(name)
        .replace(/[\/\\\u0000-\u001f\u007f]/g, '_')
        .trim();
    if (decoded && decoded !== '.' && decoded !== '..') return decoded;
  }
  return 'download';
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
