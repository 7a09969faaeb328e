/**
 * A small federation for end-to-end tests: a schema with Chinese category values, K agencies each
 * with its own CSV file and DuckDB file in a temp folder, served in process over real gRPC on
 * 127.0.0.1, and a coordinator connected to them over gRPC.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgency, type Agency, type AgencyOptions } from '../../src/agency/agency.js';
import { connectCoordinator, type ConnectOptions } from '../../src/coordinator/connect.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { datasetSchemaOf, readHePublicKey, type Federation } from '../../src/federation/federation.js';
import { initFederation } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { parseSchema, type Schema } from '../../src/federation/schema.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import { serveAgencyService, type RunningServer } from '../../src/transport/agency-server.js';
import { serverCredentials } from '../../src/transport/credentials.js';
import { freePorts } from '../../src/demo/free-port.js';

export const DISTRICTS = ['锦江区', '青羊区', '金牛区', '武侯区', '成华区'] as const;

export const TEST_SCHEMA: Schema = parseSchema(
  {
    datasets: {
      residents: {
        maxRows: 1_000_000,
        columns: {
          person: { type: 'id', format: 'text' },
          district: { type: 'category', values: [...DISTRICTS] },
          sex: { type: 'category', values: ['男', '女'] },
          age: { type: 'integer', min: 0, max: 120 },
          income: { type: 'integer', min: 0, max: 2_000_000 },
          balance: { type: 'integer', min: -50_000, max: 50_000 },
        },
      },
    },
  },
  'test-schema.json',
);

export interface Row {
  person: string;
  district: string;
  sex: string;
  age: number;
  income: number;
  balance: number;
}

/** Deterministic pseudo-random rows (a test needs reproducible data, not secure randomness). */
export function makeRows(n: number, seed: number, skew = 0): Row[] {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: n }, (_, i) => ({
    person: `p${seed}-${i}`,
    // skew makes later districts rarer so some groups fall below minGroupSize
    district: DISTRICTS[Math.min(DISTRICTS.length - 1, Math.floor(next() ** (1 + skew) * DISTRICTS.length))]!,
    sex: next() < 0.52 ? '男' : '女',
    age: Math.floor(next() * 121),
    income: Math.floor(next() * 2_000_001),
    balance: Math.floor(next() * 100_001) - 50_000,
  }));
}

export function writeCsv(file: string, rows: readonly Row[]): void {
  const lines = [
    'person,district,sex,age,income,balance',
    ...rows.map((r) => `${r.person},${r.district},${r.sex},${r.age},${r.income},${r.balance}`),
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
}

export interface TestFederation {
  readonly dir: string;
  readonly federation: Federation;
  readonly federationFile: string;
  readonly keyFiles: Readonly<Record<string, string>>;
  readonly ids: readonly string[];
  readonly csvFiles: Readonly<Record<string, string>>;
  readonly agencies: Map<string, { agency: Agency; server: RunningServer }>;
  /** A coordinator connected to the agencies; `options` adds to connectCoordinator's (trainers, say). */
  coordinator(options?: Omit<ConnectOptions, 'federation'>): Promise<Coordinator>;
  /** Starts agency `id` in process; `wrap` may replace its behaviour (a misbehaving agency). Resolves once `c` (if given) reaches it. */
  start(id: string, wrap?: (a: Agency) => Agency, options?: Partial<AgencyOptions>): Promise<void>;
  stop(id: string): Promise<void>;
  close(): Promise<void>;
}

export async function createTestFederation(options: {
  agencies: number;
  rowsPerAgency?: number;
  minAgencies?: number;
  minGroupSize?: number;
  skew?: number;
  exactRelease?: boolean;
  /** Require every query in the transparency log (default false: most tests run without one). */
  transparencyLog?: boolean;
  /** Give the key authority an endpoint (start it with startKeyAuthorityNode); default: inside the coordinator. */
  remoteKeyAuthority?: boolean;
}): Promise<TestFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-e2e-'));
  const ids = Array.from({ length: options.agencies }, (_, i) => `agency-${i + 1}`);
  const ports = await freePorts(ids.length + 1);
  const init = await initFederation({
    ...(options.remoteKeyAuthority === true ? { keyAuthorityEndpoint: `127.0.0.1:${ports[ids.length]}` } : {}),
    outDir: join(dir, 'federation'),
    schema: TEST_SCHEMA,
    agencies: ids.map((id, i) => ({ id, endpoint: `127.0.0.1:${ports[i]}` })),
    policy: {
      minAgencies: options.minAgencies ?? 2,
      minGroupSize: options.minGroupSize ?? 1,
      exactRelease: options.exactRelease ?? true,
      transparencyLog: options.transparencyLog ?? false,
    },
  });
  const csvFiles: Record<string, string> = {};
  ids.forEach((id, i) => {
    csvFiles[id] = join(dir, `${id}.csv`);
    writeCsv(csvFiles[id], makeRows(options.rowsPerAgency ?? 200, 1000 + i, options.skew ?? 0));
  });
  const agencies = new Map<string, { agency: Agency; server: RunningServer }>();
  const tf: TestFederation = {
    dir,
    ids,
    csvFiles,
    agencies,
    federation: init.federation,
    federationFile: init.federationFile,
    keyFiles: init.keyFiles,
    coordinator: (options = {}) => connectCoordinator({ ...options, federation: init.federation }),
    async start(id, wrap, extra = {}) {
      const store = await openDuckDbStore(join(dir, `${id}.duckdb`));
      await store.loadCsv('residents', datasetSchemaOf(init.federation, 'residents'), csvFiles[id]!);
      const secrets = loadKeyFile(init.keyFiles[id]!, init.federation);
      const agency = await createAgency({
        federation: init.federation,
        secrets,
        hePublicKey: readHePublicKey(init.federation),
        store,
        ...extra,
      });
      const port = Number(init.federation.parties.find((p) => p.id === id)!.endpoint!.split(':')[1]);
      // Over mTLS with the federation's certificates, as deployed; only the coordinator may call.
      const server = await serveAgencyService(wrap === undefined ? agency : wrap(agency), '127.0.0.1', port, {
        credentials: serverCredentials(init.federation, secrets, { insecure: false, host: '127.0.0.1' }),
        allowedCallers: ['coordinator'],
      });
      agencies.set(id, { agency, server });
    },
    async stop(id) {
      const a = agencies.get(id);
      if (a === undefined) return;
      agencies.delete(id);
      await a.server.close();
      await a.agency.close();
    },
    async close() {
      for (const id of [...agencies.keys()]) await tf.stop(id);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return tf;
}
