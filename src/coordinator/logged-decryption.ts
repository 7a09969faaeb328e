/**
 * The key authority's decryption, in a federation with a transparency log: the request carries
 * the query's log proof against the current head (everything so far made durable and published first) and a
 * consistency proof from the head the key authority reports, rebuilt when its head moved on
 * meanwhile (STALE_HEAD). Its signed entries — the decryption, or its refusal — are appended.
 */
import { isFedstatError } from '../errors.js';
import type { KeyAuthority } from '../key-authority/key-authority.js';
import type { DecryptionAnswer, DecryptionRequest } from '../protocol/decryption.js';
import { refusalEntry, STALE_RETRIES, type QueryLog } from './query-log.js';

export async function loggedDecryption(
  ka: KeyAuthority,
  kaId: string,
  request: DecryptionRequest,
  queryLog: QueryLog | null,
): Promise<DecryptionAnswer> {
  for (let attempt = 0; ; attempt++) {
    let logProof;
    if (queryLog !== null) {
      logProof = await queryLog.proofFor((await ka.describe()).logHead?.size ?? 0, `key authority ${kaId}`);
    }
    try {
      const answer = await ka.decrypt(logProof === undefined ? request : { ...request, logProof });
      queryLog?.appendFrom(kaId, answer.logEntries ?? [], ['decryption']);
      return answer;
    } catch (e) {
      if (isFedstatError(e, 'STALE_HEAD') && attempt < STALE_RETRIES) continue;
      queryLog?.appendRefusal(kaId, refusalEntry(e));
      throw e;
    }
  }
}
