import type { ResponseRecord } from '../common/schema.js';

/** A response record as an older version kept it (or put it in resume data): header pairs before version 7, no length or type before 3. */
export type OlderResponseRecord = Pick<ResponseRecord, 'url' | 'status' | 'statusText'> & { headers: string | [string, string][] };

/** What a task keeps of a response. */
export function responseRecord(response: Response, url: string): ResponseRecord {
  return withFields({ url: response.url || url, status: response.status, statusText: response.statusText }, [...response.headers]);
}

/**
 * A response record as this version keeps it, from one kept by any version: with what the page
 * shows of it (`expectedContentLength`, `mimeType`) and its headers as text. A `TypeError` for
 * headers that are not pairs of strings (resume data comes from the app).
 */
export function upgradeResponse(record: OlderResponseRecord): ResponseRecord {
  return withFields(record, typeof record.headers === 'string' ? headerPairs(record.headers) : record.headers);
}

function withFields(record: Omit<OlderResponseRecord, 'headers'>, pairs: [string, string][]): ResponseRecord {
  const headers = new Headers(pairs);
  return {
    ...record,
    headers: JSON.stringify(pairs),
    expectedContentLength: Number(headers.get('Content-Length') ?? -1),
    mimeType: headers.get('Content-Type')?.split(';')[0]!.trim() ?? null,
  };
}

/** A response record's header pairs; a `TypeError` if its text is not the JSON of pairs of strings. */
export function headerPairs(text: string): [string, string][] {
  let pairs: unknown;
  try {
    pairs = JSON.parse(text);
  } catch {
    // Not JSON: refused below.
  }
  const isPair = (pair: unknown) => Array.isArray(pair) && pair.length === 2 && pair.every((part) => typeof part === 'string');
  if (!Array.isArray(pairs) || !pairs.every(isPair)) throw new TypeError(`Not a response's headers: ${text.slice(0, 100)}`);
  return pairs as [string, string][];
}

/**
 * A header's value in a record's headers (`name` in lower case), or undefined. The text is
 * parsed only where it holds the name: a page re-attaching 1,000 tasks asks each for one.
 */
export function headerValue(headers: string, name: string): string | undefined {
  return headers.toLowerCase().includes(`"${name}"`) ? headerPairs(headers).find((pair) => pair[0].toLowerCase() === name)?.[1] : undefined;
}

/**
 * The name a response suggests for its file, as `URLResponse.suggestedFilename`: the
 * `Content-Disposition` filename (`filename*` first) where the headers show it (CORS may hide
 * it), else the URL's last path segment, else `'download'`. Never a path: separators and
 * control characters become `_`.
 */
export function suggestedFilename(response: Pick<ResponseRecord, 'url' | 'headers'>): string {
  const disposition = headerValue(response.headers, 'content-disposition') ?? '';
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
