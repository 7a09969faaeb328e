/**
 * An agency's side of record linkage (protocol/link-messages.ts): it admits a join query like any
 * query (signature, log proof, its own policy), reads one entry per distinct id from its store,
 * hashes the ids to the PSI group, and then only ever handles blinded elements and ciphertexts.
 * It never learns which of its ids matched, nor how many: it sends every valid id whatever the
 * query's WHERE says, its positions are a random injection whether an id matched or not, and the
 * components of the other side reach it only under BFV.
 */
import { sha256, toHex } from '../crypto/digest.js';
import { FedstatError } from '../errors.js';
import { datasetSchemaOf, party } from '../federation/federation.js';
import { encryptPositionBlocks } from '../he/position-encryption.js';
import { CryptoRandom } from '../dp/random.js';
import {
  encryptingSide,
  isJoinRoundPlan,
  otherSide,
  sideSpec,
  joinCells,
  type JoinRoundPlan,
} from '../protocol/join-round.js';
import {
  blocksFor,
  checkChunk,
  chunkElements,
  MAX_LINK_ELEMENTS,
  signChunk,
  signEncryptAnswer,
  type BlindedChunk,
  type LinkBlindRequest,
  type LinkEncryptAnswer,
  type LinkEncryptRequest,
  type LinkLoadRequest,
  type LinkReblindRequest,
  type LinkStartAnswer,
  type LinkStartRequest,
} from '../protocol/link-messages.js';
import type { AgencyLinkage } from '../protocol/links.js';
import { openQuery, queryDigest, type QueryEnvelope, type SignedQuery } from '../protocol/query-envelope.js';
import { openQueryRho } from '../protocol/privacy-terms.js';
import { openSideKey, sealSideKey } from '../protocol/side-key.js';
import { checkBlindedSet } from '../psi/blinded-set.js';
import { BlindingKey } from '../psi/blinding-key.js';
import type { HashCache } from '../psi/hash-cache.js';
import type { JoinSideName } from '../query/join-plan.js';
import type { AgencyContext } from './agency-context.js';
import { admitLogProof, servedDatasets } from './admission.js';
import { AnswerTrail } from './answer-trail.js';
import { chargeBudget } from './budget-charge.js';
import type { LinkSession, LinkSessions } from './link-session.js';
import { linkValues } from './link-values.js';

/** A verified join query: its envelope and plan, the digest later phases must repeat. */
function openJoin(ctx: AgencyContext, query: SignedQuery): { env: QueryEnvelope; plan: JoinRoundPlan; digest: string } {
  const env = openQuery(query, ctx.federation, ctx.params, ctx.clock());
  if (!isJoinRoundPlan(env.plan))
    throw new FedstatError('BAD_MESSAGE', `query ${env.queryId} is not a join query; linkage phases answer joins only`);
  return { env, plan: env.plan, digest: toHex(queryDigest(query.bytes)) };
}

/** A Fisher–Yates permutation of [0, n) from node:crypto: the order an agency sends its elements in. */
function randomOrder(n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = new CryptoRandom();
  for (let i = n - 1; i > 0; i--) {
    const j = random.belowNumber(i + 1);
    const a = order[i] ?? 0;
    order[i] = order[j] ?? 0;
    order[j] = a;
  }
  return order;
}

/** The linkage phases of one agency. */
export function agencyLinkage(ctx: AgencyContext, sessions: LinkSessions, hashes: HashCache): AgencyLinkage {
  const { me, federation } = ctx;
  const signingKey = ctx.secrets.signing.secretKey;

  /** The agency's own policy for a join, in the order checkPolicy applies it to a single-dataset query. */
  async function admit(env: QueryEnvelope, plan: JoinRoundPlan, trail: AnswerTrail): Promise<JoinSideName> {
    const side: JoinSideName | null = plan.sides.left.includes(me.id)
      ? 'left'
      : plan.sides.right.includes(me.id)
        ? 'right'
        : null;
    if (side === null) trail.refuse('POLICY_REFUSED', 'it is not among the agencies the query names');
    if (env.mode !== 'encrypted') trail.refuse('POLICY_REFUSED', 'join queries are answered encrypted only');
    const dataset = plan.join[side].dataset;
    if (!(await servedDatasets(ctx)).includes(dataset))
      trail.refuse('NOT_FOUND', `dataset ${dataset} is not served here`);
    if (env.issuedAt < ctx.startedAt) {
      throw new FedstatError(
        'REPLAY',
        `agency ${me.id} refuses query ${env.queryId}: it was issued before the agency (re)started; run the query again`,
      );
    }
    if (env.privacy === undefined && !federation.policy.exactRelease)
      trail.refuse(
        'POLICY_REFUSED',
        'the federation policy requires differential privacy for every query; run it with --rho',
      );
    return side;
  }

  async function start(request: LinkStartRequest): Promise<LinkStartAnswer> {
    const now = ctx.clock();
    const { env, plan, digest } = openJoin(ctx, request.query);
    const trail = new AnswerTrail(ctx, env.queryId, now);
    await admitLogProof(ctx, request.query, env, request.logProof, trail);
    const side = await admit(env, plan, trail);
    const role = side === plan.multiplying ? 'multiplying' : 'encrypting';
    // The multiplying side is admitted again by round 1 (it answers Aggregate); the encrypting side only here.
    if (role === 'encrypting') ctx.replay.admit(env.queryId, env.expiresAt, now);
    const dataset = plan.join[side].dataset;
    const inputs = await ctx.store
      .linkInputs(sideSpec(plan, side), datasetSchemaOf(federation, dataset))
      .catch((e: unknown) => {
        // The data refuses (invalid ids, too many rows per id, out-of-domain rows): a decision, signed and logged.
        if (e instanceof FedstatError && e.code === 'DATA_INVALID') trail.refuse(e.code, e.message);
        throw e;
      });
    if (inputs.ids.length > MAX_LINK_ELEMENTS)
      trail.refuse(
        'POLICY_REFUSED',
        `it holds ${inputs.ids.length} distinct ids, more than the ${MAX_LINK_ELEMENTS} one query links`,
      );
    const order = randomOrder(inputs.ids.length);
    const ids = Array.from(order, (i) => inputs.ids[i] ?? '');
    // Hashing takes ~0.2 ms an id: yield meanwhile, so the agency keeps answering (and its pings).
    const hashed = await hashes.hashAllAsync(ids);
    const candidate = BlindingKey.generate();
    const session: LinkSession = {
      env,
      queryDigest: digest,
      plan,
      side,
      role,
      inputs,
      order,
      hashed,
      candidate,
      sideKey: null,
      loaded: null,
      encrypted: false,
    };
    sessions.open(session, now);
    const sideKeys = plan.sides[side]
      .filter((peer) => peer !== me.id)
      .map((peer) =>
        sealSideKey(
          candidate.bytes(),
          { federationId: federation.id, queryId: env.queryId, from: me.id, to: peer },
          ctx.secrets.agreementSecret,
          party(federation, peer).agreementKey,
        ),
      );
    return { agencyId: me.id, queryId: env.queryId, elements: ids.length, sideKeys, logEntries: trail.entries };
  }

  function sessionOf(query: SignedQuery): { session: LinkSession; env: QueryEnvelope } {
    const { env, digest } = openJoin(ctx, query);
    return { session: sessions.get(env.queryId, digest, ctx.clock()), env };
  }

  async function blind(request: LinkBlindRequest): Promise<readonly BlindedChunk[]> {
    const { session, env } = sessionOf(request.query);
    const peers = session.plan.sides[session.side];
    if (!peers.includes(request.leader))
      throw new FedstatError('BAD_MESSAGE', `the side leader ${request.leader} is not an agency of this side`);
    if (session.sideKey === null) {
      if (request.leader === me.id) session.sideKey = session.candidate;
      else {
        if (request.sideKey === null) throw new FedstatError('BAD_MESSAGE', 'the side key from the leader is missing');
        const key = openSideKey(
          request.sideKey,
          { federationId: federation.id, queryId: env.queryId, from: request.leader, to: me.id },
          ctx.secrets.agreementSecret,
          party(federation, request.leader).agreementKey,
        );
        session.sideKey = BlindingKey.fromBytes(key);
        key.fill(0);
      }
    }
    const blinded = await session.sideKey.blindAsync(session.hashed);
    const parts = chunkElements(blinded);
    return parts.map((elements, index) =>
      signChunk(
        request.query,
        { origin: me.id, phase: 'blind', index, chunks: parts.length, elements, by: me.id },
        signingKey,
      ),
    );
  }

  async function reblind(request: LinkReblindRequest): Promise<BlindedChunk> {
    const { session } = sessionOf(request.query);
    const { chunk } = request;
    const others = session.plan.sides[otherSide(session.side)];
    if (!others.includes(chunk.origin) || chunk.by !== chunk.origin || chunk.phase !== 'blind')
      throw new FedstatError(
        'BAD_MESSAGE',
        `a chunk to re-blind must be a blinded chunk of an agency of the other side`,
      );
    if (session.sideKey === null) throw new FedstatError('BAD_MESSAGE', 'this agency has not blinded its own set yet');
    checkChunk(request.query, chunk, party(federation, chunk.origin).signingKey);
    checkBlindedSet(chunk.elements, chunk.origin);
    const elements = await session.sideKey.blindAsync(chunk.elements);
    return signChunk(
      request.query,
      { origin: chunk.origin, phase: 'reblind', index: chunk.index, chunks: chunk.chunks, elements, by: me.id },
      signingKey,
    );
  }

  async function encrypt(request: LinkEncryptRequest): Promise<LinkEncryptAnswer> {
    const now = ctx.clock();
    const { session, env } = sessionOf(request.query);
    if (session.role !== 'encrypting') throw new FedstatError('BAD_MESSAGE', 'only the encrypting side encrypts');
    if (session.encrypted) throw new FedstatError('REPLAY', `query ${env.queryId} was already encrypted here`);
    session.encrypted = true;
    const blocks = blocksFor(request.positionCount, ctx.params.slotCount);
    checkPositions(request.positions, request.positionCount, session.inputs.ids.length);
    const trail = new AnswerTrail(ctx, env.queryId, now);
    if (env.privacy !== undefined) {
      const dataset = session.plan.join[session.side].dataset;
      await chargeBudget(ctx, env, openQueryRho(env.privacy.rho), now, trail, dataset);
    }
    const cells = joinCells(session.plan, federation.schema);
    const vectors = linkValues(session, cells, encryptingSide(session.plan));
    const ciphertexts: Uint8Array[] = [];
    for (const values of vectors)
      for (const block of encryptPositionBlocks(ctx.encryptor, request.positions, values, blocks)) {
        ciphertexts.push(block);
        await new Promise<void>((resolve) => setImmediate(resolve)); // ~10 ms a block: keep answering
      }
    const answer = signEncryptAnswer(
      request.query,
      { agencyId: me.id, queryId: env.queryId, ciphertexts, components: vectors.length, blocks, logEntries: [] },
      signingKey,
    );
    // Its records go into the release: logged as a contribution, so an auditor sees that it paid.
    const digest = toHex(sha256(answer.signature));
    trail.record({ type: 'contribution', at: now, queryId: env.queryId, agencyId: me.id, digest });
    // The encrypting side's part of the query ends here: its keys go now, not at expiry.
    sessions.close(env.queryId);
    return { ...answer, logEntries: trail.entries };
  }

  async function load(request: LinkLoadRequest): Promise<void> {
    const { session } = sessionOf(request.query);
    if (session.role !== 'multiplying')
      throw new FedstatError('BAD_MESSAGE', 'only the multiplying side loads ciphertexts');
    if (session.loaded !== null)
      throw new FedstatError('REPLAY', 'the ciphertexts of this query were already loaded here');
    checkPositions(request.positions, request.positionCount, session.inputs.ids.length);
    const blocks = blocksFor(request.positionCount, ctx.params.slotCount);
    const cells = joinCells(session.plan, federation.schema);
    const components = session.plan.join.join === 'anti' ? 1 : cells.widths[encryptingSide(session.plan)];
    if (
      request.blocks !== blocks ||
      request.components !== components ||
      request.ciphertexts.length !== blocks * components
    )
      throw new FedstatError(
        'BAD_MESSAGE',
        `the coordinator sent ${request.ciphertexts.length} ciphertexts, not ${components} components × ${blocks} blocks`,
      );
    const summed: Uint8Array[][] = [];
    for (let c = 0; c < components; c++) summed.push(request.ciphertexts.slice(c * blocks, (c + 1) * blocks));
    session.loaded = { positions: request.positions, summed };
    await Promise.resolve();
  }

  return { start, blind, reblind, encrypt, load };
}

/** BAD_MESSAGE unless there is one position per element, each below the count, all distinct. */
function checkPositions(positions: Uint32Array, count: number, elements: number): void {
  if (!Number.isSafeInteger(count) || count < elements || count > 2 ** 32)
    throw new FedstatError('BAD_MESSAGE', 'the position count is malformed');
  if (positions.length !== elements)
    throw new FedstatError('BAD_MESSAGE', `${positions.length} positions for ${elements} elements`);
  const seen = new Uint8Array(Math.ceil(count / 8));
  for (const p of positions) {
    if (p >= count) throw new FedstatError('BAD_MESSAGE', 'a position is out of range');
    const bit = 1 << (p & 7);
    const at = p >>> 3;
    if (((seen[at] ?? 0) & bit) !== 0) throw new FedstatError('BAD_MESSAGE', 'two elements share a position');
    seen[at] = (seen[at] ?? 0) | bit;
  }
}
