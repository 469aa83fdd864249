/**
 * Whether a storage write failed for want of room. Chromium says so with a `QuotaExceededError`
 * DOMException. Firefox's Cache Storage rejects `cache.put` with an XPCOM exception named
 * `NS_ERROR_FILE_NO_DEVICE_SPACE` (not an `Error`; measured in Firefox ESR 153 with a fixed
 * storage limit), having first cancelled the body stream with an `AbortError`.
 */
export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_FILE_NO_DEVICE_SPACE';
}

/** What a quota error says: its message, else (Firefox's exception has none) its name. */
export function quotaErrorText(error: unknown): string {
  const { name, message } = error as { name?: unknown; message?: unknown };
  return String(message || name);
}
