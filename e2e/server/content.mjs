// @ts-check
/**
 * Deterministic, randomly-addressable test content.
 *
 * The content of a file is defined by (seed, version, size). The byte at
 * offset `o` is byte `o` of the AES-128-CTR keystream with
 *   key = first 16 bytes of sha256(`${seed}:${version}`)
 *   counter block for offset o = big-endian 128-bit integer floor(o / 16).
 * Any byte range can therefore be generated directly, at GB/s speeds. The seed `zeros` gives
 * only zero bytes (content that compresses).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** Size of the chunks produced by the generators (64 KiB). */
export const CHUNK_SIZE = 64 * 1024;

/** The seed whose every byte is 0: content that gzip shrinks about a thousand times. */
export const ZEROS_SEED = 'zeros';

/** Shared, never-modified buffer of zeros that gets "encrypted". */
const ZEROS = Buffer.alloc(CHUNK_SIZE);

/**
 * AES key for a given seed and version.
 * @param {string} seed
 * @param {number} version
 * @returns {Buffer}
 */
function keyFor(seed, version) {
  return createHash('sha256').update(`${seed}:${version}`).digest().subarray(0, 16);
}

/**
 * 16-byte big-endian counter block for the block containing `offset`.
 * @param {number} offset
 * @returns {Buffer}
 */
function ivFor(offset) {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(Math.floor(offset / 16)), 8);
  return iv;
}

/**
 * @param {number} start
 * @param {number} endInclusive
 */
function checkRange(start, endInclusive) {
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`bad start: ${start}`);
  if (!Number.isSafeInteger(endInclusive) || endInclusive < start - 1) {
    throw new RangeError(`bad end: ${endInclusive}`);
  }
}

/**
 * Lazily yields the content bytes [start, endInclusive] in chunks of at most
 * `chunkSize` bytes. Each yielded Buffer is freshly allocated by the cipher,
 * so callers may keep it.
 * @param {string} seed
 * @param {number} version
 * @param {number} start
 * @param {number} endInclusive
 * @param {number} [chunkSize]
 * @returns {Generator<Buffer, void, void>}
 */
export function* contentChunks(seed, version, start, endInclusive, chunkSize = CHUNK_SIZE) {
  checkRange(start, endInclusive);
  const size = Math.max(1, Math.min(CHUNK_SIZE, Math.floor(chunkSize)));
  if (seed === ZEROS_SEED) {
    for (let at = start; at <= endInclusive; at += size) yield Buffer.alloc(Math.min(size, endInclusive - at + 1));
    return;
  }
  const cipher = createCipheriv('aes-128-ctr', keyFor(seed, version), ivFor(start));
  const skip = start % 16;
  if (skip > 0) cipher.update(ZEROS.subarray(0, skip));
  let remaining = endInclusive - start + 1;
  while (remaining > 0) {
    const n = Math.min(size, remaining);
    remaining -= n;
    yield cipher.update(ZEROS.subarray(0, n));
  }
}

/**
 * Readable stream of the content bytes [start, endInclusive] (inclusive),
 * produced lazily in 64 KiB chunks, respecting backpressure.
 * @param {string} seed
 * @param {number} version
 * @param {number} start
 * @param {number} endInclusive
 * @returns {Readable}
 */
export function contentStream(seed, version, start, endInclusive) {
  const chunks = contentChunks(seed, version, start, endInclusive);
  return new Readable({
    highWaterMark: CHUNK_SIZE,
    read() {
      const next = chunks.next();
      this.push(next.done ? null : next.value);
    },
  });
}

/**
 * The content bytes [start, endInclusive] as a single Buffer (for small checks).
 * @param {string} seed
 * @param {number} version
 * @param {number} start
 * @param {number} endInclusive
 * @returns {Buffer}
 */
export function contentBytes(seed, version, start, endInclusive) {
  return Buffer.concat([...contentChunks(seed, version, start, endInclusive)]);
}

/** @type {Map<string, Promise<string>>} */
const shaCache = new Map();

/**
 * Hex sha256 of a whole file of `size` bytes, computed by streaming and memoized.
 * @param {string} seed
 * @param {number} version
 * @param {number} size
 * @returns {Promise<string>}
 */
export async function sha256Of(seed, version, size) {
  const key = `${seed}\u0000${version}\u0000${size}`;
  let result = shaCache.get(key);
  if (!result) {
    result = (async () => {
      const hash = createHash('sha256');
      let i = 0;
      for (const chunk of contentChunks(seed, version, 0, size - 1)) {
        hash.update(chunk);
        // Yield to the event loop now and then so big files don't block the server.
        if (++i % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      return hash.digest('hex');
    })();
    shaCache.set(key, result);
    result.catch(() => shaCache.delete(key));
  }
  return result;
}
