/**
 * The BFV material most HE tests start from: parameters of the fast insecure N=4096 preset, a
 * fresh key pair and an encryptor, disposed together.
 */
import { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { generateHeKeys, type HeKeyPair } from '../../src/he/keys.js';
import { INSECURE_BFV_N4096_T50 } from './insecure-presets.js';

export interface InsecureHe extends Disposable {
  readonly params: HeParams;
  readonly keys: HeKeyPair;
  readonly enc: HeEncryptor;
}

export async function createInsecureHe(): Promise<InsecureHe> {
  const params = await HeParams.create(INSECURE_BFV_N4096_T50);
  const keys = generateHeKeys(params);
  const enc = new HeEncryptor(params, keys.publicKey);
  return {
    params,
    keys,
    enc,
    [Symbol.dispose]: () => {
      enc[Symbol.dispose]();
      params[Symbol.dispose]();
    },
  };
}
