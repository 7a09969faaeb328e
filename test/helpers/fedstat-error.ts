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
