/**
 * Round 1: send the signed query to every agency it names, verify each contribution's signature
 * before a byte of it reaches SEAL, add it to the encrypted sum, and hand its sealed shares to
 * secure aggregation. Whoever has not answered by the deadline is dropped.
 */
import { FedstatError, describeError, type ErrorCode } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import type { SlotLayout } from '../he/packing.js';
import { addSlotsModT } from '../he/packing.js';
import { bytesToSlots, checkContribution } from '../protocol/contribution.js';
import type { AgencyLink } from '../protocol/links.js';
import { queryDigest, type QueryEnvelope, type SignedQuery } from '../protocol/query-envelope.js';
import type { SecAggAggregation } from '../secagg/aggregation.js';
import { authorProblem, openEntry } from '../transparency/log-entry.js';
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
  /** Each answered agency's signed transparency-log entries for this query, checked. */
  readonly logEntries: ReadonlyMap<string, readonly Uint8Array[]>;
}

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
  readonly onAnswer: (agency: string, ok: boolean) => void;
}

export async function gatherContributions(input: GatherInput): Promise<Round1> {
  const { federation, signed, envelope: env, layout, sum, secagg } = input;
  const digest = queryDigest(signed.bytes);
  let plainSum: BigUint64Array[] = Array.from({ length: layout.ciphertextCount }, () => new BigUint64Array(layout.slotCount));
  const answered: string[] = [];
  const logEntries = new Map<string, readonly Uint8Array[]>();
  const failed: FailedAgency[] = [];
  const links = env.agencies.map((id) => input.links.find((l) => l.agencyId === id)).filter((l) => l !== undefined);
  await Promise.all(links.map(async (link) => {
    try {
      const agency = federation.parties.find((p) => p.id === link.agencyId);
      if (agency === undefined) throw new FedstatError('INTERNAL', 'agency vanished from the federation');
      const c = await link.aggregate(signed, input.deadlineMs);
      checkContribution(c, {
        federationId: federation.id, queryDigest: digest, queryId: env.queryId, agencyId: link.agencyId, mode: env.mode,
        payloads: layout.ciphertextCount, participants: env.agencies,
      }, agency.signingKey);
      const entries = checkLogEntries(c.logEntries ?? [], federation, link.agencyId, env.queryId);
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
      logEntries.set(link.agencyId, entries);
      input.onAnswer(link.agencyId, true);
    } catch (e) {
      failed.push(failure(link.agencyId, e));
      input.onAnswer(link.agencyId, false);
    }
  }));
  answered.sort();
  return { answered, failed, plainSum, logEntries };
}

/**
 * An answer's log entries must be this agency's own, about this query, signed, and of a kind an
 * agency may log; anything else drops the contribution (its sender is named), so the log never
 * holds an entry the coordinator could not vouch it received with a counted contribution.
 */
function checkLogEntries(entries: readonly Uint8Array[], federation: Federation, agencyId: string, queryId: string): readonly Uint8Array[] {
  for (const bytes of entries) {
    let opened;
    try {
      opened = openEntry(bytes, federation);
    } catch (e) {
      throw new FedstatError('BAD_MESSAGE', `agency ${agencyId} sent a log entry that does not open: ${describeError(e)}`);
    }
    const { event, author } = opened;
    const problem = authorProblem(event, author);
    if (author.id !== agencyId || problem !== null || !('queryId' in event) || event.queryId !== queryId) {
      throw new FedstatError('BAD_MESSAGE', `agency ${agencyId} sent a log entry that is not its own record of query ${queryId}`);
    }
  }
  return entries;
}
