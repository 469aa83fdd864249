/** Quotes a value for an error message. */
export function quote(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A TypeError that says what was needed and quotes the value given instead. */
export function badValue(needed: string, value: unknown): TypeError {
  return new TypeError(`${needed}, not ${quote(value)}`);
}
