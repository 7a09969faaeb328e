/**
 * Round 1: send the signed query to every agency it names, verify each contribution's signature
 * before a byte of it reaches SEAL, add it to the encrypted sum, and hand its sealed shares to
 * secure aggregation. Whoever has not answered by the deadline is dropped. With a transparency
 * log, each request carries the query's log proof (rebuilt and resent once or twice when the
 * agency's head moved on meanwhile), and a refusing agency's signed refusal is kept for the log.
 */
import { FedstatError, describeError, isFedstatError, type ErrorCode } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import type { SlotLayout } from '../he/packing.js';
import { addSlotsModT } from '../he/packing.js';
import { bytesToSlots, checkContribution, type Contribution } from '../protocol/contribution.js';
import type { AgencyLink } from '../protocol/links.js';
import { queryDigest, type QueryEnvelope, type SignedQuery } from '../protocol/query-envelope.js';
import type { SecAggAggregation } from '../secagg/aggregation.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';
import { checkedEntries, refusalEntry, STALE_RETRIES } from './query-log.js';
import type { EncryptedSum } from './encrypted-sum.js';

export interface FailedAgency {
  readonly id: string;
  readonly code: ErrorCode;
  readonly reason: string;
}

export function failure(id: string, e: unknown): FailedAgency {
  if (e instanceof FedstatError) return { id, code: e.code, reason: e.message };
  return { id, code: 'INTERNAL', reason: describeError(e) };
}

export interface Round1 {
  readonly answered: string[];
  readonly failed: FailedAgency[];
  /** Plaintext mode only: the running plain sum. */
  readonly plainSum: BigUint64Array[];
  /**
   * Each agency's signed transparency-log entries for this query, checked, also when its
   * contribution was then refused: its budget charge happened either way and goes into the log.
   */
  readonly logEntries: ReadonlyMap<string, readonly Uint8Array[]>;
  /** Refusing agencies' signed refusal entries as sent (QueryLog.appendRefusal checks each before it is logged). */
  readonly refusals: ReadonlyMap<string, Uint8Array>;
}

/** The log proof for an agency: from the head it reported, or (`stale`) from the one it reports now. */
export type LogProofSource = (link: AgencyLink, stale: boolean) => Promise<QueryLogProof>;


export interface GatherInput {
  readonly federation: Federation;
  readonly signed: SignedQuery;
  readonly envelope: QueryEnvelope;
  readonly layout: SlotLayout;
  readonly links: readonly AgencyLink[];
  readonly deadlineMs: number;
  /** Encrypted modes: the running encrypted sum. */
  readonly sum: EncryptedSum | null;
  /** `encrypted` mode: the secure-aggregation state of this query. */
  readonly secagg: SecAggAggregation | null;
  /** With a transparency log: each agency's proof that the query is in it. */
  readonly logProof?: LogProofSource;
  readonly onAnswer: (agency: string, ok: boolean) => void;
}

async function ask(link: AgencyLink, input: GatherInput): Promise<Contribution> {
  for (let attempt = 0; ; attempt++) {
    const proof = await input.logProof?.(link, attempt > 0);
    try {
      return await link.aggregate(input.signed, input.deadlineMs, proof);
    } catch (e) {
      if (!isFedstatError(e, 'STALE_HEAD') || attempt >= STALE_RETRIES) throw e;
    }
  }
}

export async function gatherContributions(input: GatherInput): Promise<Round1> {
  const { federation, signed, envelope: env, layout, sum, secagg } = input;
  const digest = queryDigest(signed.bytes);
  let plainSum: BigUint64Array[] = Array.from({ length: layout.ciphertextCount }, () => new BigUint64Array(layout.slotCount));
  const answered: string[] = [];
  const logEntries = new Map<string, readonly Uint8Array[]>();
  const refusals = new Map<string, Uint8Array>();
  const failed: FailedAgency[] = [];
  const links = env.agencies.map((id) => input.links.find((l) => l.agencyId === id)).filter((l) => l !== undefined);
  await Promise.all(links.map(async (link) => {
    try {
      const agency = federation.parties.find((p) => p.id === link.agencyId);
      if (agency === undefined) throw new FedstatError('INTERNAL', 'agency vanished from the federation');
      const c = await ask(link, input);
      logEntries.set(link.agencyId, checkedEntries(federation, link.agencyId, env.queryId, c.logEntries ?? [], ['budget', 'contribution']));
      checkContribution(c, {
        federationId: federation.id, queryDigest: digest, queryId: env.queryId, agencyId: link.agencyId, mode: env.mode,
        payloads: layout.ciphertextCount, participants: env.agencies,
      }, agency.signingKey);
      // Secure-aggregation material is checked before the ciphertexts join the sum and recorded
      // after: an agency is a survivor exactly when its ciphertexts are in the sum.
      const masking = secagg !== null && c.masking !== null ? secagg.checkRound1(link.agencyId, c.masking) : null;
      if (sum !== null) await sum.add(c.payloads);
      else {
        const next = c.payloads.map((p) => bytesToSlots(p, layout.slotCount, layout.plainModulus));
        plainSum = plainSum.map((s, i) => addSlotsModT(s, next[i] ?? s, layout.plainModulus));
      }
      if (secagg !== null && masking !== null) secagg.acceptRound1(link.agencyId, masking);
      answered.push(link.agencyId);
      input.onAnswer(link.agencyId, true);
    } catch (e) {
      const refusal = refusalEntry(e);
      if (refusal !== undefined) refusals.set(link.agencyId, refusal);
      failed.push(failure(link.agencyId, e));
      input.onAnswer(link.agencyId, false);
    }
  }));
  answered.sort();
  return { answered, failed, plainSum, logEntries, refusals };
}
