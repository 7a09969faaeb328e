/**
 * The key authority's decryption, in a federation with a transparency log: the request carries
 * the query's log proof against the current head (everything so far made durable and published first) and a
 * consistency proof from the head the key authority reports, rebuilt when its head moved on
 * meanwhile (STALE_HEAD). Its signed entries — the decryption, or its refusal — are appended.
 *
 * The first proof can be prepared ahead (`keyAuthorityProof`), while round 2 of secure
 * aggregation runs: nothing is appended about the query between the survivor set and the
 * decryption, so the durable flush and the published head it waits for are the same then as
 * when the sum is ready, and a head that moved on meanwhile is caught by STALE_HEAD as before.
 */
import { isFedstatError } from '../errors.js';
import type { KeyAuthority } from '../key-authority/key-authority.js';
import type { DecryptionAnswer, DecryptionRequest } from '../protocol/decryption.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';
import { refusalEntry, STALE_RETRIES, type QueryLog } from './query-log.js';

/** The query's proof for the key authority, from the head it reports now; everything appended so far is made durable and published first. */
export async function keyAuthorityProof(ka: KeyAuthority, kaId: string, queryLog: QueryLog): Promise<QueryLogProof> {
  return queryLog.proofFor((await ka.describe()).logHead?.size ?? 0, `key authority ${kaId}`);
}

/**
 * Asks the key authority to decrypt `request`; `prepared` is the first attempt's log proof when it
 * was built ahead (`keyAuthorityProof`, started after the last entry this request depends on).
 */
export async function loggedDecryption(
  ka: KeyAuthority,
  kaId: string,
  request: DecryptionRequest,
  queryLog: QueryLog | null,
  prepared?: Promise<QueryLogProof>,
): Promise<DecryptionAnswer> {
  for (let attempt = 0; ; attempt++) {
    let logProof;
    if (queryLog !== null) {
      logProof = attempt === 0 && prepared !== undefined ? await prepared : await keyAuthorityProof(ka, kaId, queryLog);
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
