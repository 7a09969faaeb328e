/**
 * Validation of a blinded set received from an agency, before anyone blinds or matches it: whole
 * elements only, each canonical and not of low order, and no value twice (an honest agency sends
 * each distinct id once, so a repeat is a malformed or dishonest message).
 */
import { FedstatError } from '../errors.js';
import { ElementTable } from './element-table.js';
import { ELEMENT_BYTES, isCanonicalElement } from './group.js';

/**
 * Check the blinded set `bytes` (n × 32) that agency `from` sent and return n. Throws FedstatError
 * BAD_MESSAGE naming the agency and the first bad element's index: when the length is not a
 * multiple of 32, an element is non-canonical or of low order, or an element repeats an earlier one.
 */
export function checkBlindedSet(bytes: Uint8Array, from: string): number {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('checkBlindedSet takes the set as a Uint8Array');
  if (bytes.length % ELEMENT_BYTES !== 0) throw truncatedSet(from, bytes.length);
  const count = bytes.length / ELEMENT_BYTES;
  // A keyed hash table, so an agency cannot choose values that all collide.
  const seen = new ElementTable(count);
  for (let i = 0; i < count; i++) {
    const offset = i * ELEMENT_BYTES;
    if (!isCanonicalElement(bytes, offset)) throw badSet(from, i, 'is non-canonical or of low order');
    if (seen.add(bytes, offset) !== i) throw badSet(from, i, 'repeats an earlier element (each id must be sent once)');
  }
  return count;
}

/** The BAD_MESSAGE for a set from `from` whose `length` is not a whole number of elements. */
export function truncatedSet(from: string, length: number): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    `blinded set from agency ${from} is truncated: ${length} bytes is not a multiple of ${ELEMENT_BYTES}; the agency must resend it`,
    { details: { agency: from } },
  );
}

/** The BAD_MESSAGE for element `index` of the set from `from`. */
export function badSet(from: string, index: number, what: string): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    `blinded set from agency ${from}: element ${index} ${what}; the agency must resend a valid set`,
    { details: { agency: from, element: index } },
  );
}
