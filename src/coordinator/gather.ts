/**
 * Round 1: send the signed query to every agency it names, verify each contribution's signature
 * before a byte of it reaches SEAL, add it to the encrypted sum, and hand its sealed shares to
 * secure aggregation. Whoever has not answered by the deadline is dropped. With a transparency
 * log, each request carries the query's log proof (rebuilt and resent once or twice when the
 * agency's head moved on meanwhile), and a refusing agency's signed refusal is kept for the log.
 */
import { FedstatError, describeError, isFedstatError } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import type { SlotLayout } from '../he/packing.js';
import { addSlotsModT } from '../he/packing.js';
import { bytesToSlots, checkContribution, type Contribution } from '../protocol/contribution.js';
import type { AgencyLink } from '../protocol/links.js';
import { queryDigest, type QueryEnvelope, type SignedQuery } from '../protocol/query-envelope.js';
import { SecAggAggregation } from '../secagg/aggregation.js';
import { checkedEntries, refusalEntry, STALE_RETRIES } from './query-log.js';
import type { EncryptedSum } from './encrypted-sum.js';
import type { FailedAgency, LogProofSource, ProgressOption, QueryContext, SentQuery } from './query-context.js';

/** Declared in query-context.ts; re-exported for the modules that import it from here. */
export type { FailedAgency } from './query-context.js';

export function failure(id: string, e: unknown): FailedAgency {
  if (e instanceof FedstatError) return { id, code: e.code, reason: e.message };
  return { id, code: 'INTERNAL', reason: describeError(e) };
}

interface Round1 {
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

interface GatherInput {
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

async function gatherContributions(input: GatherInput): Promise<Round1> {
  const { federation, signed, envelope: env, layout, sum, secagg } = input;
  const digest = queryDigest(signed.bytes);
  let plainSum: BigUint64Array[] = Array.from(
    { length: layout.ciphertextCount },
    () => new BigUint64Array(layout.slotCount),
  );
  const answered: string[] = [];
  const logEntries = new Map<string, readonly Uint8Array[]>();
  const refusals = new Map<string, Uint8Array>();
  const failed: FailedAgency[] = [];
  const links = env.agencies.map((id) => input.links.find((l) => l.agencyId === id)).filter((l) => l !== undefined);
  await Promise.all(
    links.map(async (link) => {
      try {
        const agency = federation.parties.find((p) => p.id === link.agencyId);
        if (agency === undefined) throw new FedstatError('INTERNAL', 'agency vanished from the federation');
        const c = await ask(link, input);
        logEntries.set(
          link.agencyId,
          checkedEntries(federation, link.agencyId, env.queryId, c.logEntries ?? [], ['budget', 'contribution']),
        );
        checkContribution(
          c,
          {
            federationId: federation.id,
            queryDigest: digest,
            queryId: env.queryId,
            agencyId: link.agencyId,
            mode: env.mode,
            payloads: layout.ciphertextCount,
            participants: env.agencies,
            ...(secagg === null ? {} : { shareHolders: secagg.shareHolders(link.agencyId) }),
          },
          agency.signingKey,
        );
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
    }),
  );
  answered.sort();
  return { answered, failed, plainSum, logEntries, refusals };
}

/** Round 1's outcome, as the steps of the query after it need it. */
export interface RoundOne {
  readonly gathered: Round1;
  /** Sorted ids of the agencies whose contributions are in the sum. */
  readonly answered: readonly string[];
  /** Every serving agency that failed, in Describe or in round 1, sorted by id. */
  readonly failed: readonly FailedAgency[];
  /** `encrypted` mode: the secure-aggregation state; null in the benchmark modes. */
  readonly secagg: SecAggAggregation | null;
}

/**
 * Round 1 as a step of a query: secure aggregation set up over the agencies asked (`encrypted`
 * mode), their contributions gathered into `sum`, and every failure of the query so far (in
 * Describe or in round 1) in one list sorted by agency.
 */
export async function roundOne(
  q: QueryContext,
  sent: SentQuery,
  sum: EncryptedSum | null,
  options: ProgressOption,
  excluded: readonly FailedAgency[] = [],
): Promise<RoundOne> {
  const { federation, layout, serving } = q;
  const secagg =
    q.mode === 'encrypted'
      ? new SecAggAggregation({
          federationId: federation.id,
          queryId: q.queryId,
          participants: serving,
          threshold: q.threshold,
          length: layout.slotsUsed,
          modulus: layout.plainModulus,
          agreementKeys: new Map(federation.parties.map((p) => [p.id, p.agreementKey])),
          ...(sent.envelope.secaggGraph === undefined ? {} : { graph: sent.envelope.secaggGraph }),
        })
      : null;
  let done = 0;
  const gathered = await gatherContributions({
    federation,
    signed: sent.signed,
    envelope: sent.envelope,
    layout,
    // Agencies that already failed this query (a join's linkage) are not asked: they count as dropped.
    links: q.links.filter((l) => !excluded.some((f) => f.id === l.agencyId)),
    deadlineMs: q.deadlineMs,
    sum,
    secagg,
    ...(sent.logProof === undefined ? {} : { logProof: sent.logProof }),
    onAnswer: (agency, ok) =>
      options.onProgress?.({ phase: ok ? 'answered' : 'failed', agency, done: ++done, total: serving.length }),
  });
  const failed = [...q.failedServing, ...excluded, ...gathered.failed].sort((a, b) => a.id.localeCompare(b.id));
  return { gathered, answered: gathered.answered, failed, secagg };
}
