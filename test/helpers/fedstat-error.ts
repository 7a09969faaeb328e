import { FedstatError } from '../../src/errors.js';

/** The FedstatError `fn` throws; fails the test if it returns or throws anything else. */
export function fedstatErrorOf(fn: () => unknown): FedstatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FedstatError) return e;
    throw e;
  }
  throw new Error('expected a FedstatError');
}

/** The FedstatError `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function fedstatRejectionOf(promise: Promise<unknown>): Promise<FedstatError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof FedstatError) return e;
    throw e;
  }
  throw new Error('expected a FedstatError');
}
