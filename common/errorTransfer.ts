/**
 * How errors cross Comlink between the worker and a page: with their own class, `code` and
 * `status` (see `errors.ts`). Apart from the protocol, so that a page loads Comlink only with
 * its connection to the worker.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { deserializeError, serializeError, type SerializedError } from './errors.js';

/**
 * Extends Comlink's `throw` handler so that `code` and `status` cross with an error and the
 * other side gets the error's own class back. The worker calls it before its first call.
 */
export function installErrorTransfer(): void {
  const comlinkThrow = transferHandlers.get('throw') as TransferHandler<{ value: unknown }, unknown>;
  if ((comlinkThrow as { bgdl?: true }).bgdl) return;
  transferHandlers.set('throw', {
    bgdl: true,
    canHandle: comlinkThrow.canHandle,
    serialize: ({ value }: { value: unknown }) => [serializeError(value), []],
    deserialize: (data: SerializedError) => {
      throw deserializeError(data);
    },
  } as TransferHandler<unknown, unknown>);
}

/**
 * The page's half of `installErrorTransfer()`: an error thrown in the worker is rebuilt with
 * its own class, `code` and `status` (a page throws nothing back, so it serializes no error).
 * The page calls it before each call; calling it again changes nothing.
 */
export function receiveErrors(): void {
  const comlinkThrow = transferHandlers.get('throw')!;
  transferHandlers.set('throw', {
    ...comlinkThrow,
    deserialize: (data: SerializedError) => {
      throw deserializeError(data);
    },
  });
}
