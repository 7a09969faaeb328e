/**
 * The only way untrusted ciphertext bytes enter SEAL: header check, complete structural check
 * in JavaScript, then SEAL's own load, then SEAL's view of the result. Every failure is a
 * BAD_MESSAGE (or MESSAGE_TOO_LARGE) and leaves nothing allocated.
 *
 * What this cannot catch: a well-formed ciphertext under another public key, or one whose
 * coefficients were altered but stay reduced. Those decrypt to garbage, which is why every
 * contribution is signed and verified before it gets here.
 */
import type { Ciphertext } from 'node-seal';
import { FedstatError } from '../errors.js';
import { checkSealHeader } from './ciphertext-header.js';
import { checkCiphertextLayout } from './ciphertext-layout.js';
import type { HeParams } from './he-params.js';
import { sealFailureReason } from './seal.js';

function bad(problem: string, cause?: unknown): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    `malformed ciphertext: ${problem}; the sender must encrypt under this federation's HE parameters`,
    cause === undefined ? {} : { cause },
  );
}

function sameParmsId(a: BigUint64Array, b: BigUint64Array): boolean {
  return a.length === b.length && a.every((w, i) => w === b[i]);
}

/**
 * @internal Validates `bytes` and loads them into a new Ciphertext owned by the caller, who must
 * `.delete()` it. Throws FedstatError BAD_MESSAGE / MESSAGE_TOO_LARGE, TypeError for non-bytes.
 */
export function loadCiphertext(params: HeParams, bytes: Uint8Array): Ciphertext {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('a ciphertext must be a Uint8Array');
  checkSealHeader(bytes, params.ciphertextBytes);
  checkCiphertextLayout(bytes, params.shape);
  const { seal } = params;
  const ct = new seal.Ciphertext();
  try {
    try {
      ct.loadFromArray(params.context, bytes);
    } catch (e) {
      throw bad(`SEAL refused it (${sealFailureReason(seal, e)})`, e);
    }
    // Defence in depth: SEAL's own view must agree with the structural check.
    const pid = ct.parmsId();
    let pidOk: boolean;
    try {
      pidOk = sameParmsId(pid.values() as BigUint64Array, params.shape.parmsId);
    } finally {
      pid.delete();
    }
    if (!pidOk) throw bad("its parameter id is not this federation's");
    if (ct.size() !== 2) throw bad('it does not have exactly 2 polynomials');
    if (ct.isNttForm()) throw bad('it is in NTT form');
    // A transparent ciphertext (second polynomial zero) carries its plaintext in the clear.
    if (ct.isTransparent()) throw bad('it is transparent (not encrypted)');
    return ct;
  } catch (e) {
    ct.delete();
    throw e;
  }
}
