/**
 * Agency-service wire messages ↔ protocol types. protobufjs decodes whatever arrives; these
 * functions are where untrusted shapes become typed values (lengths and types checked), so the
 * protocol layer never sees a generated message type.
 */
import { FedstatError } from '../errors.js';
import { firstNonTextChar } from '../util/text-chars.js';
import type { Contribution } from '../protocol/contribution.js';
import { ANSWER_MODES, type AnswerMode } from '../protocol/query-envelope.js';
import type { UnmaskAnswer, UnmaskRequest } from '../protocol/unmask.js';
import type { SealedShare } from '../secagg/sealed-share.js';
import { fieldFromBytes, fieldToBytes } from '../secagg/shamir.js';
import { parseCanonicalRho } from '../dp/rho.js';
import { MAX_UNLOGGED_ENTRIES, type BudgetStatus } from '../protocol/links.js';
import type {
  AggregateResponseMessage,
  BudgetStatusMessage,
  SealedShareMessage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from './proto.js';

function bad(what: string): FedstatError {
  return new FedstatError('BAD_MESSAGE', `${what} is missing or malformed`);
}

export function bytesField(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw bad(what);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function stringField(v: unknown, what: string): string {
  if (typeof v !== 'string') throw bad(what);
  return v;
}

function listField(v: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(v) || v.length > max) throw bad(what);
  return v;
}

const MAX_LIST = 4096;

function shareFromWire(m: unknown): SealedShare {
  const r = (m ?? {}) as Partial<SealedShareMessage>;
  return {
    from: stringField(r.from, 'share sender'),
    to: stringField(r.to, 'share recipient'),
    nonce: bytesField(r.nonce, 'share nonce'),
    box: bytesField(r.box, 'share box'),
  };
}

function shareToWire(s: SealedShare): SealedShareMessage {
  return { from: s.from, to: s.to, nonce: s.nonce, box: s.box };
}

export function contributionToWire(c: Contribution): AggregateResponseMessage {
  return {
    agencyId: c.agencyId,
    queryId: c.queryId,
    mode: c.mode,
    payloads: [...c.payloads],
    signature: c.signature,
    shares: (c.masking?.shares ?? []).map(shareToWire),
    commitment: c.masking?.commitment ?? new Uint8Array(0),
    pairwiseCommitments: [...(c.masking?.pairwiseCommitments ?? [])],
    logEntries: [...(c.logEntries ?? [])],
  };
}

/** The most log entries one answer may carry (an agency logs its budget charge and its contribution). */
const MAX_LOG_ENTRIES = 8;

export function contributionFromWire(r: AggregateResponseMessage, peer: string): Contribution {
  if (!ANSWER_MODES.includes(r.mode as AnswerMode))
    throw new FedstatError('BAD_MESSAGE', `${peer} answered in an unknown mode`);
  const mode = r.mode as AnswerMode;
  const shares = listField(r.shares, 'sealed shares', MAX_LIST).map(shareFromWire);
  const commitment = bytesField(r.commitment, 'commitment');
  const pairwiseCommitments = listField(r.pairwiseCommitments, 'pairwise commitments', MAX_LIST).map((b) =>
    bytesField(b, 'pairwise commitment'),
  );
  return {
    agencyId: stringField(r.agencyId, 'agency id'),
    queryId: stringField(r.queryId, 'query id'),
    mode,
    payloads: listField(r.payloads, 'payloads', MAX_LIST).map((p) => bytesField(p, 'payload')),
    masking: mode === 'encrypted' ? { shares, commitment, pairwiseCommitments } : null,
    signature: bytesField(r.signature, 'signature'),
    logEntries: listField(r.logEntries, 'log entries', MAX_LOG_ENTRIES).map((b) => bytesField(b, 'log entry')),
  };
}

export function unmaskRequestToWire(r: UnmaskRequest): UnmaskRequestMessage {
  return {
    query: r.query.bytes,
    querySignature: r.query.signature,
    survivors: r.survivors.bytes,
    survivorsSignature: r.survivors.signature,
    shares: r.shares.map(shareToWire),
  };
}

export function unmaskRequestFromWire(m: UnmaskRequestMessage): UnmaskRequest {
  return {
    query: { bytes: bytesField(m.query, 'query'), signature: bytesField(m.querySignature, 'query signature') },
    survivors: {
      bytes: bytesField(m.survivors, 'survivor set'),
      signature: bytesField(m.survivorsSignature, 'survivor set signature'),
    },
    shares: listField(m.shares, 'sealed shares', MAX_LIST).map(shareFromWire),
  };
}

export function unmaskAnswerToWire(a: UnmaskAnswer): UnmaskResponseMessage {
  return {
    agencyId: a.agencyId,
    queryId: a.queryId,
    signature: a.signature,
    selfMaskShares: a.selfMaskShares.map((s) => ({ of: s.of, x: s.x, y: fieldToBytes(s.y) })),
    pairwiseSeeds: a.pairwiseSeeds.map((s) => ({ with: s.with, seed: s.seed })),
  };
}

export function unmaskAnswerFromWire(m: UnmaskResponseMessage): UnmaskAnswer {
  return {
    agencyId: stringField(m.agencyId, 'agency id'),
    queryId: stringField(m.queryId, 'query id'),
    signature: bytesField(m.signature, 'signature'),
    selfMaskShares: listField(m.selfMaskShares, 'self-mask shares', MAX_LIST).map((raw) => {
      const s = (raw ?? {}) as Partial<UnmaskResponseMessage['selfMaskShares'][number]>;
      if (typeof s.x !== 'number' || !Number.isSafeInteger(s.x) || s.x < 1) throw bad('share index');
      const y = fieldFromBytes(bytesField(s.y, 'share value'));
      return { of: stringField(s.of, 'share owner'), x: s.x, y };
    }),
    pairwiseSeeds: listField(m.pairwiseSeeds, 'pairwise seeds', MAX_LIST).map((raw) => {
      const s = (raw ?? {}) as Partial<UnmaskResponseMessage['pairwiseSeeds'][number]>;
      const seed = bytesField(s.seed, 'pairwise seed');
      if (seed.length !== 32) throw bad('pairwise seed');
      return { with: stringField(s.with, 'seed peer'), seed };
    }),
  };
}

/** The most budget entries one Describe answer may carry (one per dataset of a schema is far fewer). */
const MAX_BUDGETS = 4096;

/** An agency's budget list from the wire; BAD_MESSAGE for anything that is not canonical ρ. */
export function budgetsFromWire(list: readonly BudgetStatusMessage[] | undefined, peer: string): BudgetStatus[] {
  const items = list ?? [];
  if (items.length > MAX_BUDGETS) throw new FedstatError('BAD_MESSAGE', `${peer} sent ${items.length} budget entries`);
  return items.map((b) => {
    const ok =
      typeof b.dataset === 'string' &&
      b.dataset.length > 0 &&
      b.dataset.length <= 256 &&
      [b.budget, b.spent, b.remaining].every((r) => typeof r === 'string' && parseCanonicalRho(r) !== null) &&
      Number.isSafeInteger(b.charges) &&
      b.charges >= 0;
    if (!ok) throw new FedstatError('BAD_MESSAGE', `${peer} sent a malformed privacy-budget entry`);
    return { dataset: b.dataset, budget: b.budget, spent: b.spent, remaining: b.remaining, charges: b.charges };
  });
}

/** Longest signed log entry an agency may hand over in Describe (a budget entry is under 2 KiB). */
const MAX_UNLOGGED_ENTRY_BYTES = 16 * 1024;

/** The unlogged entries an agency reported (their signatures are checked by the log operator). */
export function unloggedFromWire(list: unknown, peer: string): Uint8Array[] {
  if (list === undefined || list === null) return [];
  if (
    !Array.isArray(list) ||
    list.length > MAX_UNLOGGED_ENTRIES ||
    !list.every((e) => e instanceof Uint8Array && e.length > 0 && e.length <= MAX_UNLOGGED_ENTRY_BYTES)
  ) {
    throw new FedstatError('BAD_MESSAGE', `${peer} reported malformed unlogged log entries`);
  }
  return list.map((e: Uint8Array) => Uint8Array.from(e));
}

/** The ledger fault an agency reported: null when empty; BAD_MESSAGE when not a short line of text. */
export function ledgerFaultFromWire(fault: unknown, peer: string): string | null {
  if (fault === undefined || fault === null || fault === '') return null;
  if (typeof fault !== 'string' || fault.length > 1024 || firstNonTextChar(fault) !== null)
    throw new FedstatError('BAD_MESSAGE', `${peer} reported a malformed ledger fault`);
  return fault;
}
