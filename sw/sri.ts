/**
 * Subresource Integrity's metadata, as pure functions: which hash a request's `integrity`
 * names, and whether a file's digest is one it allows.
 */
import type { DigestAlgorithm, TaskRecord } from '../common/schema.js';

const STRENGTH: DigestAlgorithm[] = ['sha256', 'sha384', 'sha512'];

/** SRI metadata's strongest algorithm and the values it allows, or undefined if it names none known. */
export function parseIntegrity(metadata: string | undefined): { algorithm: DigestAlgorithm; values: string[] } | undefined {
  const tokens = (metadata ?? '')
    .trim()
    .split(/\s+/)
    .flatMap((token) => {
      const match = /^(sha256|sha384|sha512)-([A-Za-z0-9+/_-]+={0,2})(?:\?\S*)?$/.exec(token);
      return match ? [{ algorithm: match[1] as DigestAlgorithm, value: match[2]!.replace(/-/g, '+').replace(/_/g, '/') }] : [];
    });
  const strongest = STRENGTH.findLast((algorithm) => tokens.some((token) => token.algorithm === algorithm));
  return strongest && { algorithm: strongest, values: tokens.filter((token) => token.algorithm === strongest).map((token) => token.value) };
}

/** The algorithm a task's file is hashed with: its `integrity`'s strongest, else SHA-256. */
export function algorithmOf(task: Pick<TaskRecord, 'originalRequest'>): DigestAlgorithm {
  return parseIntegrity(task.originalRequest.integrity)?.algorithm ?? 'sha256';
}

/** Whether a digest (`sha256-BASE64`) is one a task's `integrity` allows (any, if it has none). */
export function satisfies(integrity: string | undefined, digest: string): boolean {
  const asked = parseIntegrity(integrity);
  if (!asked) return true;
  const [algorithm, value] = digest.split('-', 2);
  const bare = (text: string) => text.replace(/=+$/, '');
  return algorithm === asked.algorithm && asked.values.some((each) => bare(each) === bare(value!));
}
