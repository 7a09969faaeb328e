/**
 * The federation the wire fuzzers attack: four real agencies (DuckDB in memory, the federation's
 * BFV_N8192_T60 keys: createAgency accepts only secure presets), the coordinator's and the key
 * authority's secrets, mTLS material from `initFederation`, and helpers that play the honest
 * coordinator step by step (sign a query, collect genuine contributions, fix and sign the
 * survivor set, collect genuine unmask answers), so each fuzzer can mutate one message of a
 * genuine exchange. Afterwards `coordinator()` gives a real Coordinator over the same agencies,
 * and `expectedRows()` the plaintext reference its rows must equal, computed from the CSV rows.
 */
import { isJoinRoundPlan } from '../../src/protocol/join-round.js';
import { isGlmRoundPlan } from '../../src/protocol/glm-round.js';
import { isFlRoundPlan } from '../../src/protocol/fl-round.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgency, type Agency } from '../../src/agency/agency.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import {
  queryDigest as digestOfQuery,
  newQueryId,
  signQuery,
  type AnswerMode,
  type QueryEnvelope,
  type SignedQuery,
} from '../../src/protocol/query-envelope.js';
import { toHex } from '../../src/crypto/digest.js';
import {
  datasetParties,
  datasetSchemaOf,
  party,
  readHePublicKey,
  type Federation,
} from '../../src/federation/federation.js';
import { initFederation } from '../../src/federation/init.js';
import { loadKeyFile, type PartySecrets } from '../../src/federation/key-file.js';
import { parseSchema, type DatasetSchema } from '../../src/federation/schema.js';
import { HeParams } from '../../src/he/he-params.js';
import { HeAccumulator } from '../../src/he/accumulator.js';
import { planSlotLayout, unpackSlots, type SlotLayout } from '../../src/he/packing.js';
import { presetByName } from '../../src/he/presets.js';
import type { KeyAuthority } from '../../src/key-authority/key-authority.js';
import { release, type ResultRow } from '../../src/coordinator/release.js';
import { planCells } from '../../src/protocol/cells.js';
import { signDecryptionRequest, type DecryptionRequest } from '../../src/protocol/decryption.js';
import { splitFlat } from '../../src/protocol/flat-slots.js';
import { checkContribution, type Contribution } from '../../src/protocol/contribution.js';
import type { AgencyLink } from '../../src/protocol/links.js';
import { signSurvivorSet, type SignedSurvivorSet } from '../../src/protocol/survivor-set.js';
import type { UnmaskAnswer, UnmaskRequest } from '../../src/protocol/unmask.js';
import { parseQuery } from '../../src/query/parse.js';
import { validatePlan } from '../../src/query/validate-plan.js';
import { SecAggAggregation } from '../../src/secagg/aggregation.js';
import { csvRecord } from '../../src/seed/csv-writer.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { Rand } from './mutate.js';

export const DISTRICTS = ['锦江区', '青羊区', '金牛区'] as const;
export const SQL = 'SELECT district, COUNT(*) AS n, SUM(age) AS years FROM residents GROUP BY district';

const SCHEMA = parseSchema(
  {
    datasets: {
      residents: {
        maxRows: 10_000,
        columns: {
          district: { type: 'category', values: [...DISTRICTS] },
          sex: { type: 'category', values: ['男', '女'] },
          age: { type: 'integer', min: 0, max: 120 },
        },
      },
    },
  },
  'fuzz-schema.json',
);

export interface Row {
  district: string;
  sex: string;
  age: number;
}

/** One query as the honest coordinator would issue it. */
export interface IssuedQuery {
  readonly signed: SignedQuery;
  readonly envelope: QueryEnvelope;
  readonly layout: SlotLayout;
  readonly digest: Uint8Array;
}

/** A genuine round 1 and the round-2 requests an honest coordinator would send next. */
export interface PendingRound {
  readonly query: IssuedQuery;
  readonly contributions: ReadonlyMap<string, Contribution>;
  readonly survivors: SignedSurvivorSet;
  readonly survivorIds: readonly string[];
  readonly dropped: readonly string[];
  readonly requests: ReadonlyMap<string, UnmaskRequest>;
}

/** A complete genuine exchange: round 1, the fixed set, round-2 requests and answers. */
export interface GenuineRound extends PendingRound {
  readonly answers: ReadonlyMap<string, UnmaskAnswer>;
  /** The correction an honest coordinator computes from the genuine answers. */
  readonly correction: BigUint64Array;
}

export interface FuzzFederation extends AsyncDisposable {
  readonly dir: string;
  readonly federation: Federation;
  readonly keyFiles: Readonly<Record<string, string>>;
  readonly ids: readonly string[];
  readonly agencies: ReadonlyMap<string, Agency>;
  readonly secrets: Readonly<Record<string, PartySecrets>>;
  readonly params: HeParams;
  readonly schema: DatasetSchema;
  readonly rows: ReadonlyMap<string, readonly Row[]>;
  /** A coordinator-signed query naming `agencies` (default all), valid for ten minutes. */
  issue(options?: { agencies?: readonly string[]; threshold?: number; sql?: string }): IssuedQuery;
  /** The secure-aggregation state an honest coordinator keeps for `q`. */
  aggregation(q: IssuedQuery): SecAggAggregation;
  /** Round 1 by `answering` (default all the query names); round 2 not asked yet. */
  round1(q: IssuedQuery, answering?: readonly string[]): Promise<PendingRound>;
  /** Round 1 by `answering` (default all the query names), round 2 by all of them. */
  genuineRound(q: IssuedQuery, answering?: readonly string[]): Promise<GenuineRound>;
  /** The coordinator-signed decryption request for a genuine round (its unmasked encrypted sum). */
  decryptionRequest(round: GenuineRound): DecryptionRequest;
  /** The rows the decrypted slots of `q` release (to compare with `expectedRows`). */
  rowsOf(q: IssuedQuery, slots: readonly BigUint64Array[]): ResultRow[];
  /**
   * What an honest coordinator checks of `agencyId`'s answer to the query in `queryBytes` (a query
   * the agency accepted, maybe an edited one): throws BAD_MESSAGE unless it fits that query.
   */
  checkAnswer(queryBytes: Uint8Array, agencyId: string, c: Contribution): void;
  /** In-process links to the agencies (wrap one to put a transport in between). */
  links(): AgencyLink[];
  /** A real coordinator over `links` and `keyAuthority` (which it does not close). */
  coordinator(keyAuthority: KeyAuthority, links?: readonly AgencyLink[]): Promise<Coordinator>;
  /** The released rows SQL must produce over the agencies in `over` (plaintext reference). */
  expectedRows(over?: readonly string[]): Record<string, string | bigint>[];
  close(): Promise<void>;
}

/** Plausible residents from the seeded stream (reproducible data, not secure randomness). */
function makeRows(rand: Rand, n: number): Row[] {
  return Array.from({ length: n }, () => ({
    district: DISTRICTS[rand(DISTRICTS.length)] ?? DISTRICTS[0],
    sex: rand(2) === 0 ? '男' : '女',
    age: rand(121),
  }));
}

export async function createFuzzFederation(
  rand: Rand,
  options: { rowsPerAgency?: number; keyAuthorityEndpoint?: string } = {},
): Promise<FuzzFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-fuzz-'));
  const agencies = new Map<string, Agency>();
  try {
    const ids = ['agency-1', 'agency-2', 'agency-3', 'agency-4'];
    const init = await initFederation({
      outDir: dir,
      schema: SCHEMA,
      policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true, transparencyLog: false },
      agencies: ids.map((id, i) => ({ id, endpoint: `127.0.0.1:${7400 + i}` })),
      ...(options.keyAuthorityEndpoint === undefined ? {} : { keyAuthorityEndpoint: options.keyAuthorityEndpoint }),
    });
    const federation = init.federation;
    const secrets: Record<string, PartySecrets> = {};
    for (const p of federation.parties) secrets[p.id] = loadKeyFile(init.keyFiles[p.id] ?? '', federation);
    const ds = datasetSchemaOf(federation, 'residents');
    const hePublicKey = readHePublicKey(federation);
    const rows = new Map<string, Row[]>();
    for (const id of ids) {
      const data = makeRows(rand, options.rowsPerAgency ?? 150);
      rows.set(id, data);
      const file = join(dir, `${id}.csv`);
      writeFileSync(
        file,
        [['district', 'sex', 'age'], ...data.map((r) => [r.district, r.sex, String(r.age)])]
          .map((f) => `${csvRecord(f)}\n`)
          .join(''),
      );
      const store = await openDuckDbStore(':memory:');
      await store.loadCsv('residents', ds, file);
      agencies.set(id, await createAgency({ federation, secrets: secrets[id] as PartySecrets, hePublicKey, store }));
    }
    const params = await HeParams.create(presetByName(federation.he.preset));
    const coordinatorKey = (secrets['coordinator'] as PartySecrets).signing.secretKey;
    const agreementKeys = new Map(federation.parties.map((p) => [p.id, p.agreementKey]));

    const issue: FuzzFederation['issue'] = (o = {}) => {
      const plan = parseQuery(o.sql ?? SQL, federation.schema);
      const names = [...(o.agencies ?? ids)].sort();
      const layout = planSlotLayout(
        planCells(plan, ds).cellBounds,
        datasetParties(federation, plan.dataset).length,
        params,
      );
      const now = Date.now();
      const envelope: QueryEnvelope = {
        v: 1,
        queryId: newQueryId(),
        federationId: federation.id,
        paramsId: params.paramsId,
        mode: 'encrypted',
        plan,
        agencies: names,
        threshold: o.threshold ?? Math.ceil((2 * names.length) / 3),
        issuedAt: now,
        expiresAt: now + 600_000,
      };
      const signed = signQuery(envelope, coordinatorKey);
      return { signed, envelope, layout, digest: digestOfQuery(signed.bytes) };
    };

    const aggregation: FuzzFederation['aggregation'] = (q) =>
      new SecAggAggregation({
        federationId: federation.id,
        queryId: q.envelope.queryId,
        participants: q.envelope.agencies,
        threshold: q.envelope.threshold,
        length: q.layout.slotsUsed,
        modulus: params.plainModulus,
        agreementKeys,
      });

    const agency = (id: string): Agency => {
      const a = agencies.get(id);
      if (a === undefined) throw new Error(`no agency ${id}`);
      return a;
    };

    const round1Of = async (
      q: IssuedQuery,
      answering: readonly string[],
    ): Promise<PendingRound & { secagg: SecAggAggregation }> => {
      const contributions = new Map<string, Contribution>();
      for (const id of answering) contributions.set(id, await agency(id).answer(q.signed));
      const secagg = aggregation(q);
      for (const [id, c] of contributions) if (c.masking !== null) secagg.acceptRound1(id, c.masking);
      const { survivors: survivorIds, dropped } = secagg.fixSurvivors();
      const survivors = signSurvivorSet(
        {
          v: 1,
          round: 2,
          queryId: q.envelope.queryId,
          federationId: federation.id,
          queryDigest: toHex(q.digest),
          survivors: survivorIds,
          dropped,
          threshold: q.envelope.threshold,
        },
        coordinatorKey,
      );
      const requests = new Map(
        survivorIds.map((id) => [id, { query: q.signed, survivors, shares: secagg.sharesFor(id) }]),
      );
      return { query: q, contributions, survivors, survivorIds, dropped, requests, secagg };
    };

    const genuineRound: FuzzFederation['genuineRound'] = async (q, answering = q.envelope.agencies) => {
      const { secagg, ...round } = await round1Of(q, answering);
      const answers = new Map<string, UnmaskAnswer>();
      for (const [id, request] of round.requests) {
        const answer = await agency(id).unmask(request);
        answers.set(id, answer);
        secagg.acceptRound2(id, { selfMaskShares: answer.selfMaskShares, pairwiseSeeds: answer.pairwiseSeeds });
      }
      return { ...round, answers, correction: secagg.finalize() };
    };

    const decryptionRequest: FuzzFederation['decryptionRequest'] = (round) => {
      const { layout } = round.query;
      using acc = new HeAccumulator(params, layout.ciphertextCount);
      for (const id of round.survivorIds) acc.add(round.contributions.get(id)?.payloads ?? []);
      acc.subtractPlain(splitFlat(round.correction, layout.slotCount, layout.ciphertextCount));
      return signDecryptionRequest(federation.id, round.query.signed, round.survivors, acc.sum(), coordinatorKey);
    };

    const rowsOf: FuzzFederation['rowsOf'] = (q, slots) => {
      const { plan } = q.envelope;
      if (isGlmRoundPlan(plan) || isFlRoundPlan(plan) || isJoinRoundPlan(plan))
        throw new Error('the fuzz federation sends SQL queries only');
      const cells = planCells(plan, ds);
      return [
        ...release({
          plan,
          schema: ds,
          cells,
          totals: unpackSlots(q.layout, [...slots]),
          policy: federation.policy,
        }).rows,
      ];
    };

    const checkAnswer: FuzzFederation['checkAnswer'] = (queryBytes, agencyId, c) => {
      const env = JSON.parse(new TextDecoder().decode(queryBytes)) as {
        queryId: string;
        mode: AnswerMode;
        plan: unknown;
        agencies: string[];
      };
      const plan = validatePlan(env.plan, federation.schema);
      const layout = planSlotLayout(
        planCells(plan, ds).cellBounds,
        datasetParties(federation, plan.dataset).length,
        params,
      );
      checkContribution(
        c,
        {
          federationId: federation.id,
          queryDigest: digestOfQuery(queryBytes),
          queryId: env.queryId,
          agencyId,
          mode: env.mode,
          payloads: layout.ciphertextCount,
          participants: env.agencies,
        },
        party(federation, agencyId).signingKey,
      );
    };

    const links = (): AgencyLink[] =>
      ids.map((id) => ({
        agencyId: id,
        describe: () => agency(id).describe(),
        aggregate: (sq) => agency(id).answer(sq),
        unmask: (r) => agency(id).unmask(r),
        close: () => undefined,
      }));

    const expectedRows = (over: readonly string[] = ids): Record<string, string | bigint>[] =>
      DISTRICTS.flatMap((district) => {
        const hits = over.flatMap((id) => rows.get(id) ?? []).filter((r) => r.district === district);
        return hits.length === 0
          ? []
          : [{ district, n: BigInt(hits.length), years: hits.reduce((s, r) => s + BigInt(r.age), 0n) }];
      });

    const close = async (): Promise<void> => {
      for (const a of agencies.values()) await a.close();
      params[Symbol.dispose]();
      rmSync(dir, { recursive: true, force: true });
    };

    return {
      dir,
      federation,
      keyFiles: init.keyFiles,
      ids,
      agencies,
      secrets,
      params,
      schema: ds,
      rows,
      issue,
      aggregation,
      genuineRound,
      links,
      decryptionRequest,
      rowsOf,
      checkAnswer,
      round1: async (q, answering = q.envelope.agencies) => {
        const { secagg: _secagg, ...round } = await round1Of(q, answering);
        return round;
      },
      expectedRows,
      close,
      coordinator: (keyAuthority, l = links()) =>
        Coordinator.create({
          federation,
          secrets: secrets['coordinator'] as PartySecrets,
          links: l,
          // The coordinator closes its key authority; the fuzzers keep theirs serving.
          keyAuthority: {
            decrypt: (r) => keyAuthority.decrypt(r),
            describe: () => keyAuthority.describe(),
            close: () => Promise.resolve(),
          },
        }),
      [Symbol.asyncDispose]: close,
    };
  } catch (e) {
    for (const a of agencies.values()) await a.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
