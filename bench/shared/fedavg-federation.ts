/**
 * A federation for the `fedavg` benchmark's scaling grid: K agencies in this process (the agency
 * code `fedstat agency serve` runs: its DuckDB store of the `train` benchmark's rows, its keys, a
 * budget ledger), reached through links that call them directly instead of over gRPC, one agency
 * at a time, and that count the protobuf bytes each call would put on the wire (the request and
 * the answer serialized with the agency service's own codecs). The coordinator is the library's,
 * with the in-process key authority and a transparency log on disk, as the default policy wants.
 *
 * One agency works at a time, so a round's wall time is the agencies' work plus the coordinator's:
 * the coordinator's own time is the round's wall time less the agencies' (measured in the links).
 * 64 agencies fit on a small machine this way, where 64 gRPC servers with mTLS would not.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createAgency, type Agency } from '../../src/agency/agency.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { datasetSchemaOf, readHePublicKey } from '../../src/federation/federation.js';
import { initFederation } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import type { AgencyLink } from '../../src/protocol/links.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import { contributionToWire, unmaskAnswerToWire, unmaskRequestToWire } from '../../src/transport/agency-messages.js';
import { logProofToWire } from '../../src/transport/log-proof-messages.js';
import { agencyServiceDefinition } from '../../src/transport/proto.js';
import { TransparencyLogSink } from '../../src/transparency/log-sink.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { benchSchema, DATASET, writeAgencyDb } from './train-data.js';

/** What the agencies did in the calls since the last `resetTraffic`, summed over them. */
export interface Traffic {
  /** Bytes from the coordinator to the agencies (requests) and back (answers), both rounds. */
  down: number;
  up: number;
  /** Time the agencies spent answering, ms. */
  agencyMs: number;
  /** Agencies that answered round 1. */
  answered: number;
}

/** A running counted federation (see the file comment). */
export interface CountedFederation {
  readonly coordinator: Coordinator;
  readonly agencies: number;
  readonly traffic: Traffic;
  resetTraffic(): void;
  close(): Promise<void>;
}

type Codec = { requestSerialize: (v: object) => Buffer; responseSerialize: (v: object) => Buffer };

/** Links to in-process agencies that run one call at a time and count bytes and time into `traffic`. */
function countedLinks(agencies: readonly Agency[], traffic: Traffic): AgencyLink[] {
  const def = agencyServiceDefinition();
  const aggregateCodec = def['Aggregate'] as unknown as Codec;
  const unmaskCodec = def['Unmask'] as unknown as Codec;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };
  const timed = async <T>(work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      traffic.agencyMs += performance.now() - t0;
    }
  };
  return agencies.map((a) => ({
    agencyId: a.id,
    describe: () => a.describe(),
    aggregate: (q, _deadline, logProof) =>
      serial(async () => {
        const c = await timed(() => a.answer(q, logProof));
        const request = {
          query: q.bytes,
          signature: q.signature,
          ...(logProof === undefined ? {} : { logProof: logProofToWire(logProof) }),
        };
        traffic.down += aggregateCodec.requestSerialize(request).length;
        traffic.up += aggregateCodec.responseSerialize(contributionToWire(c)).length;
        traffic.answered += 1;
        return c;
      }),
    unmask: (r) =>
      serial(async () => {
        const answer = await timed(() => a.unmask(r));
        traffic.down += unmaskCodec.requestSerialize(unmaskRequestToWire(r)).length;
        traffic.up += unmaskCodec.responseSerialize(unmaskAnswerToWire(answer)).length;
        return answer;
      }),
    close: () => undefined,
  }));
}

/** Builds the federation in `dir` (emptied first; removed by `close`): K agencies of `rows` rows each. */
export async function startCountedFederation(dir: string, agencies: number, rows: number): Promise<CountedFederation> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ids = Array.from({ length: agencies }, (_, i) => `agency-${String(i + 1).padStart(2, '0')}`);
  const init = await initFederation({
    outDir: join(dir, 'federation'),
    schema: benchSchema(rows),
    name: 'bench-fedavg',
    // Endpoints are never dialled: the links call the agencies in this process.
    agencies: ids.map((id, i) => ({ id, endpoint: `127.0.0.1:${20_000 + i}` })),
    policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true },
  });
  const schema = datasetSchemaOf(init.federation, DATASET);
  const hePublicKey = readHePublicKey(init.federation);
  const opened: Agency[] = [];
  const cleanup = async (): Promise<void> => {
    for (const a of opened) await a.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, id] of ids.entries()) {
      const file = join(dir, `${id}.duckdb`);
      await writeAgencyDb(file, join(dir, 'one-row.csv'), schema, i, rows);
      opened.push(
        await createAgency({
          federation: init.federation,
          secrets: loadKeyFile(init.keyFiles[id] ?? '', init.federation),
          hePublicKey,
          store: await openDuckDbStore(file),
          allowPlaintextMode: true,
          ledger: await BudgetLedger.open(join(dir, `${id}.ledger`), { budgets: { [DATASET]: '1000000' } }),
        }),
      );
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  const traffic: Traffic = { down: 0, up: 0, agencyMs: 0, answered: 0 };
  const keyAuthority = await InProcessKeyAuthority.create({
    federation: init.federation,
    secrets: loadKeyFile(init.keyFiles['key-authority'] ?? '', init.federation),
    allowBenchmarkModes: true,
  });
  const secrets = loadKeyFile(init.keyFiles['coordinator'] ?? '', init.federation);
  const store = await TransparencyLogStore.open(join(dir, 'transparency.log'), {
    logId: init.federation.id,
    secretKey: secrets.signing.secretKey,
  });
  const coordinator = await Coordinator.create({
    federation: init.federation,
    secrets,
    keyAuthority,
    links: countedLinks(opened, traffic),
    transparencyLog: new TransparencyLogSink(store, secrets.party, secrets.signing.secretKey),
  });
  return {
    coordinator,
    agencies,
    traffic,
    resetTraffic: () => Object.assign(traffic, { down: 0, up: 0, agencyMs: 0, answered: 0 }),
    // The coordinator owns the key authority and the log, and closes them.
    close: async () => {
      await coordinator.close();
      await cleanup();
    },
  };
}
