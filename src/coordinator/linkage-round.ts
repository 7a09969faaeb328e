/**
 * The coordinator's part of record linkage, between logging a join query and its round 1:
 * start every agency of both sides, pick each side's leader (its first agency that started) and
 * relay the leader's sealed key, collect every agency's blinded set, have the other side's agencies
 * raise each chunk to their key (any agency of that side will do: a chunk whose agency fails is
 * given to another), match the doubly-blinded values and draw positions, collect the encrypting
 * side's ciphertexts and sum them, and hand the sums and its positions to each multiplying agency.
 *
 * The coordinator holds no key: it sees blinded values, how many of them match between which
 * agencies, and ciphertexts. An agency that fails a phase is left out of the phases after it (its
 * records are then not in the join), and named in the result; a side with no agency left fails
 * the query.
 */
import { FedstatError, isFedstatError } from '../errors.js';
import { party } from '../federation/federation.js';
import type { HeParams } from '../he/he-params.js';
import { MAX_POSITION_BLOCKS } from '../he/position-blocks.js';
import { encryptingSide, otherSide, type JoinCells, type JoinRoundPlan } from '../protocol/join-round.js';
import {
  blocksFor,
  checkChunk,
  checkEncryptAnswer,
  MAX_LINK_CIPHERTEXTS,
  type BlindedChunk,
  type LinkStartAnswer,
} from '../protocol/link-messages.js';
import type { AgencyLink, LinkagePhases } from '../protocol/links.js';
import type { SignedQuery } from '../protocol/query-envelope.js';
import { matchBlindedSets, type BlindedSetOf } from '../psi/match.js';
import type { JoinSideName } from '../query/join-plan.js';
import { failure } from './gather.js';
import { sumLinkedCiphertexts } from './link-sums.js';
import { checkedEntries, refusalEntry, STALE_RETRIES } from './query-log.js';
import type { FailedAgency, QueryContext, SentQuery } from './query-context.js';

/** What linkage did, per side: who took part to the end, who failed where, and the sizes. */
export interface LinkageReport {
  /** The side whose agencies sent their components under BFV (the other one multiplied). */
  readonly encrypting: JoinSideName;
  /** Positions drawn: the elements all agencies sent (the blocks of every ciphertext vector). */
  readonly positions: number;
  /** Each side's agencies: linked, failed, and their sizes. */
  readonly sides: Readonly<Record<JoinSideName, LinkageSide>>;
  /** Bytes of ciphertext moved: from the encrypting agencies, and to each multiplying agency. */
  readonly bytes: { readonly encrypted: number; readonly loaded: number };
}

/** One side of a join after linkage. */
export interface LinkageSide {
  /** The side's dataset. */
  readonly dataset: string;
  /** Agencies whose records are in the join (encrypting: encrypted; multiplying: loaded). */
  readonly linked: readonly string[];
  /** Agencies of the side left out of the join, and why. */
  readonly failed: readonly FailedAgency[];
  /** Distinct ids each linked agency sent. */
  readonly elements: Readonly<Record<string, number>>;
}

export interface LinkageInput {
  readonly q: QueryContext;
  readonly sent: SentQuery;
  readonly plan: JoinRoundPlan;
  readonly cells: JoinCells;
  readonly params: HeParams;
  readonly onProgress?: (phase: string) => void;
}

/** Re-blind requests in flight per agency (each holds about 2 MiB). */
const REBLIND_CONCURRENCY = 2;

/** Runs linkage; its report, or UNAVAILABLE when a side has no agency left. */
export async function runLinkage(input: LinkageInput): Promise<LinkageReport> {
  const { q, sent, plan } = input;
  const failed = new Map<string, FailedAgency>();
  const alive = new Set<string>([...plan.sides.left, ...plan.sides.right]);
  const sideOf = (id: string): JoinSideName => (plan.sides.left.includes(id) ? 'left' : 'right');
  const phases = (id: string): LinkagePhases => {
    const link = q.links.find((l) => l.agencyId === id);
    if (link?.linkage === undefined)
      throw new FedstatError('UNAVAILABLE', `agency ${id} is reached by a link that cannot take part in joins`);
    return link.linkage;
  };
  const fail = (id: string, e: unknown): void => {
    if (!alive.delete(id)) return;
    const refusal = refusalEntry(e);
    if (refusal !== undefined) sent.queryLog?.appendRefusal(id, refusal);
    failed.set(id, failure(id, e));
  };
  const living = (side: JoinSideName): string[] => {
    const list = plan.sides[side].filter((a) => alive.has(a));
    if (list.length === 0) {
      const why = plan.sides[side].map((a) => failed.get(a)).filter((f) => f !== undefined);
      throw new FedstatError(
        'UNAVAILABLE',
        `no agency of ${plan.join[side].dataset} is left to link (${why.map((f) => `${f.id}: ${f.reason}`).join('; ') || 'none answered'})`,
        { details: { failed: why } },
      );
    }
    return list;
  };
  const { deadlineMs } = q;
  const query = sent.signed;

  // Start: admission at every agency of both sides (with the log proof, resent once if stale).
  input.onProgress?.('start');
  const started = new Map<string, LinkStartAnswer>();
  await Promise.all(
    [...alive].map(async (id) => {
      try {
        const link = q.links.find((l) => l.agencyId === id);
        if (link === undefined) throw new FedstatError('UNAVAILABLE', `no link to agency ${id}`);
        const answer = await startWithProof(link, phases(id), sent, deadlineMs);
        if (answer.agencyId !== id || answer.queryId !== q.queryId)
          throw new FedstatError('BAD_MESSAGE', `agency ${id} answered for another agency or query`);
        sent.queryLog?.appendChecked(checkedEntries(q.federation, id, q.queryId, answer.logEntries, ['budget']));
        started.set(id, answer);
      } catch (e) {
        fail(id, e);
      }
    }),
  );

  // Before any id is blinded: the ciphertext vectors over all ids must fit what agencies hold.
  const eSide = encryptingSide(plan);
  const components = plan.join.join === 'anti' ? 1 : input.cells.widths[eSide];
  const ids = [...started.values()].reduce((n, a) => n + a.elements, 0);
  const most = blocksFor(ids, input.params.slotCount);
  if (most > MAX_POSITION_BLOCKS || components * most > MAX_LINK_CIPHERTEXTS)
    throw new FedstatError(
      'PLAN_UNSAFE',
      `the join would link ${ids} ids, ${components} × ${most} ciphertexts per agency; at most ${MAX_POSITION_BLOCKS} blocks of ${input.params.slotCount} ids and ${MAX_LINK_CIPHERTEXTS} ciphertexts fit: group the encrypting side by fewer values, or link fewer records`,
    );

  // Blind: each side blinds with its leader's key.
  input.onProgress?.('blind');
  const blinded = new Map<string, readonly BlindedChunk[]>();
  // Both datasets at once: on separate machines the two sides' blinding overlaps.
  await Promise.all(
    (['left', 'right'] as const).map(async (side) => {
      const members = living(side);
      const leader = members[0] ?? '';
      const leaderKeys = started.get(leader)?.sideKeys ?? [];
      await Promise.all(
        members.map(async (id) => {
          try {
            const sideKey = id === leader ? null : (leaderKeys.find((k) => k.to === id && k.from === leader) ?? null);
            if (id !== leader && sideKey === null)
              throw new FedstatError('BAD_MESSAGE', `the side leader ${leader} sent no key for agency ${id}`);
            const chunks = await phases(id).blind({ query, leader, sideKey }, deadlineMs);
            checkBlinded(query, id, chunks, started.get(id)?.elements ?? 0, party(q.federation, id).signingKey);
            blinded.set(id, chunks);
          } catch (e) {
            fail(id, e);
          }
        }),
      );
    }),
  );

  // Re-blind: every chunk of one side by some agency of the other side.
  input.onProgress?.('reblind');
  const doubled = new Map<string, Uint8Array[]>();
  // Both directions at once: each agency re-blinds the other side's chunks while its own are re-blinded.
  const reblinded = await Promise.all(
    // async: a side found empty rejects its own promise, never throws past the other side's.
    (['left', 'right'] as const).map(async (side) => {
      const tasks = living(side).flatMap((origin) => (blinded.get(origin) ?? []).map((chunk) => ({ origin, chunk })));
      return reblindAll(tasks, otherSide(side), living, phases, fail, query, q, deadlineMs);
    }),
  );
  for (const { origin, chunk, elements } of reblinded.flat()) {
    const list = doubled.get(origin) ?? new Array<Uint8Array>(chunk.chunks);
    list[chunk.index] = elements;
    doubled.set(origin, list);
  }

  // Match: one position per distinct doubly-blinded value.
  const sets: BlindedSetOf[] = [];
  for (const id of [...living('left'), ...living('right')]) {
    const parts = doubled.get(id);
    if (parts === undefined) continue;
    sets.push({ agency: id, side: sideOf(id), elements: concat(parts) });
  }
  const matching = matchBlindedSets(sets);
  const positionCount = matching.positionCount;
  const blocks = blocksFor(positionCount, input.params.slotCount);

  // Encrypt: the encrypting side's components at their positions, summed.
  input.onProgress?.('encrypt');
  const encrypted = new Map<string, readonly Uint8Array[]>();
  let encryptedBytes = 0;
  await Promise.all(
    living(eSide).map(async (id) => {
      try {
        const positions = matching.positions.get(id);
        if (positions === undefined) throw new FedstatError('INTERNAL', `no positions for agency ${id}`);
        const a = await phases(id).encrypt({ query, positionCount, positions }, deadlineMs);
        if (a.agencyId !== id || a.queryId !== q.queryId || a.components !== components || a.blocks !== blocks)
          throw new FedstatError('BAD_MESSAGE', `agency ${id} encrypted another shape than the query's`);
        checkEncryptAnswer(query, a, party(q.federation, id).signingKey);
        // Its budget charge happened: logged even if the sum below refuses its ciphertexts.
        sent.queryLog?.appendChecked(
          checkedEntries(q.federation, id, q.queryId, a.logEntries, ['budget', 'contribution']),
        );
        encrypted.set(id, a.ciphertexts);
        encryptedBytes += a.ciphertexts.reduce((n, c) => n + c.length, 0);
      } catch (e) {
        fail(id, e);
      }
    }),
  );
  const encryptingAgencies = living(eSide).filter((id) => encrypted.has(id));
  const presence =
    plan.join.join === 'anti' ? presenceCounts(encryptingAgencies, matching.positions, positionCount) : null;
  const summed = sumLinkedCiphertexts(
    input.params,
    encryptingAgencies.map((id) => encrypted.get(id) ?? []),
    blocks,
    presence,
  );
  encrypted.clear();

  // Load: the sums and its positions to each multiplying agency, before round 1.
  input.onProgress?.('load');
  const mSide = plan.multiplying;
  let loadedBytes = 0;
  await Promise.all(
    living(mSide).map(async (id) => {
      try {
        const positions = matching.positions.get(id);
        if (positions === undefined) throw new FedstatError('INTERNAL', `no positions for agency ${id}`);
        await phases(id).load({ query, positionCount, positions, ciphertexts: summed, components, blocks }, deadlineMs);
        loadedBytes += summed.reduce((n, c) => n + c.length, 0);
      } catch (e) {
        fail(id, e);
      }
    }),
  );
  const report = (side: JoinSideName, linked: readonly string[]): LinkageSide => ({
    dataset: plan.join[side].dataset,
    linked,
    failed: plan.sides[side].map((a) => failed.get(a)).filter((f) => f !== undefined),
    elements: Object.fromEntries(linked.map((a) => [a, started.get(a)?.elements ?? 0])),
  });
  return {
    encrypting: eSide,
    positions: positionCount,
    sides: {
      [eSide]: report(eSide, encryptingAgencies),
      [mSide]: report(mSide, living(mSide)),
    } as Record<JoinSideName, LinkageSide>,
    bytes: { encrypted: encryptedBytes, loaded: loadedBytes },
  };
}

async function startWithProof(
  link: AgencyLink,
  phases: LinkagePhases,
  sent: SentQuery,
  deadlineMs: number,
): Promise<LinkStartAnswer> {
  for (let attempt = 0; ; attempt++) {
    const proof = await sent.logProof?.(link, attempt > 0);
    try {
      return await phases.start(
        { query: sent.signed, ...(proof === undefined ? {} : { logProof: proof }) },
        deadlineMs,
      );
    } catch (e) {
      if (!isFedstatError(e, 'STALE_HEAD') || attempt >= STALE_RETRIES) throw e;
    }
  }
}

/** BAD_MESSAGE unless `chunks` are the whole signed set of `id`: in order, complete, `elements` long. */
function checkBlinded(
  query: SignedQuery,
  id: string,
  chunks: readonly BlindedChunk[],
  elements: number,
  signingKey: Uint8Array,
): void {
  let total = 0;
  chunks.forEach((c, i) => {
    if (c.origin !== id || c.by !== id || c.phase !== 'blind' || c.index !== i || c.chunks !== chunks.length)
      throw new FedstatError('BAD_MESSAGE', `blinded set from agency ${id} is out of order or incomplete`);
    checkChunk(query, c, signingKey);
    total += c.elements.length / 32;
  });
  if (total !== elements)
    throw new FedstatError(
      'BAD_MESSAGE',
      `blinded set from agency ${id} has ${total} elements, it announced ${elements}`,
    );
}

interface ReblindTask {
  readonly origin: string;
  readonly chunk: BlindedChunk;
}

/**
 * Re-blinds every task on the living agencies of `side`, a few at a time each; a task whose agency
 * fails goes to another. An origin whose chunk cannot be re-blinded by anyone fails the side.
 */
async function reblindAll(
  tasks: readonly ReblindTask[],
  side: JoinSideName,
  living: (side: JoinSideName) => string[],
  phases: (id: string) => LinkagePhases,
  fail: (id: string, e: unknown) => void,
  query: SignedQuery,
  q: QueryContext,
  deadlineMs: number,
): Promise<{ origin: string; chunk: BlindedChunk; elements: Uint8Array }[]> {
  const queue = [...tasks];
  const done: { origin: string; chunk: BlindedChunk; elements: Uint8Array }[] = [];
  const worker = async (id: string): Promise<void> => {
    for (let task = queue.shift(); task !== undefined; task = queue.shift()) {
      try {
        const r = await phases(id).reblind({ query, chunk: task.chunk }, deadlineMs);
        if (
          r.origin !== task.origin ||
          r.by !== id ||
          r.phase !== 'reblind' ||
          r.index !== task.chunk.index ||
          r.chunks !== task.chunk.chunks ||
          r.elements.length !== task.chunk.elements.length
        )
          throw new FedstatError('BAD_MESSAGE', `agency ${id} re-blinded a chunk into another shape`);
        checkChunk(query, r, party(q.federation, id).signingKey);
        done.push({ origin: task.origin, chunk: r, elements: r.elements });
      } catch (e) {
        queue.push(task); // another agency of the side takes it
        fail(id, e);
        return;
      }
    }
  };
  while (queue.length > 0) {
    const workers = living(side); // UNAVAILABLE when the side has no agency left
    await Promise.all(workers.flatMap((id) => Array.from({ length: REBLIND_CONCURRENCY }, () => worker(id))));
  }
  return done;
}

/** Per position, how many encrypting agencies hold an element there (the anti-join's correction). */
function presenceCounts(
  agencies: readonly string[],
  positions: ReadonlyMap<string, Uint32Array>,
  count: number,
): Uint32Array {
  const c = new Uint32Array(count);
  for (const id of agencies) for (const p of positions.get(id) ?? []) c[p] = (c[p] ?? 0) + 1;
  return c;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
