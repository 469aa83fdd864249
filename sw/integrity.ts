/**
 * Subresource Integrity: a `Request`'s `integrity` is checked against the file's bytes before
 * the file is handed over. The hash goes on part by part as parts are stored, its state kept
 * with the task, so a file is not read again at the end, and a restart goes on from the parts
 * hashed. Only such files are hashed: SHA-256 in the worker halved the streaming engine's pace
 * (bench/README.md, "Hashing").
 */
import { createSHA256, createSHA384, createSHA512, type IHasher } from 'hash-wasm';
import type { DigestAlgorithm, DigestState, TaskRecord } from '../common/schema.js';
import { partKeys, partOwners } from '../common/cacheKeys.js';
import { algorithmOf, satisfies } from './sri.js';
import { URLError } from '../common/errors.js';
import type { Outcome } from './store/outbox.js';
import { filesCache, matchPart } from './store/parts.js';
import { getTask } from './store/tasks.js';

const MAKERS = { sha256: createSHA256, sha384: createSHA384, sha512: createSHA512 } as const;

/** A hash function at a state: fresh, or where a saved one left off. */
async function hasher(algorithm: DigestAlgorithm, state?: Uint8Array): Promise<IHasher> {
  const made = await MAKERS[algorithm]();
  return state ? made.load(state) : made.init();
}

/** A finished hash as SRI writes it: `sha256-` and the base64 of its bytes. */
function digestOf(algorithm: DigestAlgorithm, hash: IHasher): string {
  return `${algorithm}-${btoa(String.fromCharCode(...hash.digest('binary')))}`;
}

/**
 * A task's digest state, valid for its parts as stored (`parts`, `partsBy`): its own if it
 * covers a prefix of them, else a fresh one (a file started again, or a part rewritten).
 */
function validState(task: Pick<TaskRecord, 'originalRequest' | 'digest'>, parts: number, partsBy: string[]): DigestState | undefined {
  const { digest } = task;
  const algorithm = algorithmOf(task);
  if (!digest || digest.algorithm !== algorithm || digest.parts > parts) return undefined;
  return digest.partsBy.every((by, index) => by === (partsBy[index] ?? '')) ? digest : undefined;
}

/**
 * Hashes the parts of a file that its digest state does not cover yet, reading them from
 * storage: what the engine stored without the bytes passing through the worker.
 */
export async function hashParts(task: TaskRecord, parts: number, partsBy: string[]): Promise<{ hash: IHasher; state: Omit<DigestState, 'state'> }> {
  const from = validState(task, parts, partsBy);
  const algorithm = algorithmOf(task);
  const hash = await hasher(algorithm, from?.state);
  let bytes = from?.bytes ?? 0;
  const keys = partKeys({ ...task, parts, partsBy });
  const cache = await filesCache();
  for (const key of keys.slice(from?.parts ?? 0)) {
    const part = await matchPart(cache, key);
    if (!part?.body) throw new DOMException(`A part of the download of ${task.originalRequest.url} is gone from storage`, 'NotFoundError');
    bytes += await hashStream(hash, part.body);
  }
  return { hash, state: { algorithm, parts, bytes, partsBy: partsBy.slice(0, parts) } };
}

/** Hashes a body on from where `hash` is; returns its bytes. (WebKit's streams are not async iterable.) */
export async function hashStream(hash: IHasher, body: ReadableStream<Uint8Array>): Promise<number> {
  const reader = body.getReader();
  let bytes = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    hash.update(read.value);
    bytes += read.value.byteLength;
  }
  return bytes;
}

/**
 * The digest of a stored file, as SRI writes it, read once in a stream (memory stays flat):
 * a file without `integrity` is not hashed as it arrives, but its digest can be asked.
 */
export async function digestOfFile(file: Blob, algorithm: DigestAlgorithm): Promise<string> {
  const hash = await hasher(algorithm);
  await hashStream(hash, file.stream());
  return digestOf(algorithm, hash);
}

/**
 * A finished download's outcome with its digest, or, where its `integrity` does not allow the
 * bytes, an `integrityMismatch` URLError in its place: the file is not handed over.
 */
export async function withDigest(task: TaskRecord, outcome: Outcome): Promise<Outcome> {
  const { url, integrity } = task.originalRequest;
  if ('error' in outcome || task.kind !== 'download' || !integrity) return outcome;
  let digest: string;
  try {
    if (outcome.body) {
      const algorithm = algorithmOf(task);
      digest = digestOf(algorithm, (await hasher(algorithm)).update(new Uint8Array(outcome.body)));
    } else {
      // The state the engine kept with the parts (read now: the engine's copy may be older).
      const current = (await getTask(task.sessionId, task.taskIdentifier)) ?? task;
      const { hash, state } = await hashParts(current, outcome.parts, outcome.partsBy ?? partOwners(current, outcome.parts));
      if (state.bytes !== outcome.size) throw new Error(`${state.bytes} bytes stored, ${outcome.size} expected`);
      digest = digestOf(state.algorithm, hash);
    }
  } catch (cause) {
    return { error: new URLError('cannotDecodeRawData', `The file of ${url} could not be hashed: ${String(cause)}`) };
  }
  if (satisfies(integrity, digest)) return { ...outcome, digest };
  return { error: new URLError('integrityMismatch', `The file of ${url} is ${digest}, which its integrity (${integrity}) does not allow`) };
}
