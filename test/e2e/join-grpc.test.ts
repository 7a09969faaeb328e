/**
 * Linked-record queries end to end over mTLS on 127.0.0.1, every agency a real `fedstat agency
 * serve` process with its own DuckDB file: the anti-join and an inner join equal the plaintext join
 * of the agencies' CSV files; then an agency of each side is killed in the middle of a query (the
 * encrypting side's when asked to encrypt, the multiplying side's when asked for round 1) and the
 * release equals the plaintext join over the agencies that stayed, naming the ones that went.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { startAgencyProcess, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { freePorts } from '../../src/demo/free-port.js';
import { joinReferenceRows } from '../../src/demo/join-reference.js';
import { compareRows } from '../../src/demo/reference.js';
import { initFederation, type InitResult } from '../../src/federation/init.js';
import { parseEndpoint } from '../../src/federation/federation.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { parseSchema } from '../../src/federation/schema.js';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import type { AgencyLink } from '../../src/protocol/links.js';
import { parseJoinQuery } from '../../src/query/parse-join.js';
import { csvRecord } from '../../src/seed/csv-writer.js';
import { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import { channelCredentials } from '../../src/transport/credentials.js';

const schema = parseSchema(
  {
    datasets: {
      registrations: {
        maxRows: 100000,
        columns: {
          citizen_id: { type: 'id', format: 'text' },
          district: { type: 'category', values: ['锦江区', '青羊区', '金牛区'] },
          age: { type: 'integer', min: 0, max: 120 },
        },
      },
      insurance: {
        maxRows: 100000,
        columns: {
          citizen_id: { type: 'id', format: 'text' },
          sector: { type: 'category', values: ['制造业', '建筑业'] },
          income: { type: 'integer', min: 0, max: 100000 },
        },
      },
    },
  },
  'join e2e schema',
);

const ANTI =
  'SELECT r.district, COUNT(*) AS uninsured FROM registrations r WHERE NOT EXISTS (SELECT 1 FROM insurance s WHERE s.citizen_id = r.citizen_id) GROUP BY r.district';
const INNER =
  'SELECT r.district, s.sector, COUNT(*) AS n, SUM(s.income) AS income FROM registrations r JOIN insurance s ON r.citizen_id = s.citizen_id WHERE r.age >= 18 GROUP BY r.district, s.sector';

// Four on the multiplying side: secure aggregation's threshold (3 of 4) then tolerates one lost in round 1.
const LEFT = ['psb-1', 'psb-2', 'psb-3', 'psb-4'];
const RIGHT = ['hr-1', 'hr-2'];
const policy = { minAgencies: 1, minGroupSize: 1, exactRelease: true, transparencyLog: false };

let dir: string;
let init: InitResult;
const files = new Map<string, string>();
const processes = new Map<string, AgencyProcess>();
/** Agency → the call at which the test kills its process (once). */
const killAt = new Map<string, 'encrypt' | 'aggregate'>();

/** Deterministic rows: ids p0…p(n−1) spread over the agencies, with overlaps within and across sides. */
function rowsOf(agency: string, index: number): string[][] {
  const out: string[][] = [];
  const left = LEFT.includes(agency);
  for (let i = 0; i < 60; i++) {
    const person = left ? index * 45 + i : index * 50 + i * 2; // left ids 0…194 (overlapping), right evens 0…168
    const id = `p${person}`;
    if (left) out.push([id, ['锦江区', '青羊区', '金牛区'][person % 3] ?? '', String((person * 7) % 90)]);
    else out.push([id, ['制造业', '建筑业'][person % 2] ?? '', String((person * 131) % 9000)]);
  }
  return out;
}

async function launch(id: string): Promise<void> {
  const dataset = LEFT.includes(id) ? 'registrations' : 'insurance';
  processes.set(
    id,
    await startAgencyProcess({
      id,
      federationFile: init.federationFile,
      keyFile: init.keyFiles[id] ?? '',
      datasets: { [dataset]: files.get(id) ?? '' },
    }),
  );
}

function coordinatorLinks(): AgencyLink[] {
  const secrets = loadKeyFile(init.keyFiles['coordinator'] ?? '', init.federation);
  return [...LEFT, ...RIGHT].map((id) => {
    const endpoint = init.federation.parties.find((p) => p.id === id)?.endpoint ?? '';
    const link = new GrpcAgencyLink(
      id,
      endpoint,
      channelCredentials(init.federation, secrets, {
        insecure: false,
        endpointHost: parseEndpoint(endpoint)?.host ?? '',
      }),
    );
    const linkage = link.linkage;
    // Kills the agency's process just before the call the test chose: a dropout in the middle of a query.
    const dying = async (phase: 'encrypt' | 'aggregate'): Promise<void> => {
      if (killAt.get(id) !== phase) return;
      killAt.delete(id);
      await processes.get(id)?.stop();
      processes.delete(id);
    };
    return {
      agencyId: id,
      describe: (d) => link.describe(d),
      aggregate: async (q, d, p) => {
        await dying('aggregate');
        return link.aggregate(q, d, p);
      },
      unmask: (r, d) => link.unmask(r, d),
      linkage: {
        start: (r, d) => linkage.start(r, d),
        blind: (r, d) => linkage.blind(r, d),
        reblind: (r, d) => linkage.reblind(r, d),
        encrypt: async (r, d) => {
          await dying('encrypt');
          return linkage.encrypt(r, d);
        },
        load: (r, d) => linkage.load(r, d),
      },
      close: () => link.close(),
    };
  });
}

async function coordinator(): Promise<Coordinator> {
  return Coordinator.create({
    federation: init.federation,
    secrets: loadKeyFile(init.keyFiles['coordinator'] ?? '', init.federation),
    keyAuthority: await InProcessKeyAuthority.create({
      federation: init.federation,
      secrets: loadKeyFile(init.keyFiles['key-authority'] ?? '', init.federation),
    }),
    links: coordinatorLinks(),
  });
}

async function expectJoin(
  sql: string,
  rows: Parameters<typeof compareRows>[0],
  left: string[],
  right: string[],
): Promise<void> {
  const expected = await joinReferenceRows(
    parseJoinQuery(sql, schema),
    schema,
    { left: left.map((a) => [files.get(a) ?? '']), right: right.map((a) => [files.get(a) ?? '']) },
    init.federation.policy,
  );
  expect(compareRows(rows, expected.rows)).toBeNull();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-join-e2e-'));
  const ids = [...LEFT, ...RIGHT];
  const ports = await freePorts(ids.length);
  init = await initFederation({
    outDir: join(dir, 'federation'),
    schema,
    policy,
    agencies: ids.map((id, i) => ({
      id,
      endpoint: `127.0.0.1:${ports[i]}`,
      datasets: [LEFT.includes(id) ? 'registrations' : 'insurance'],
    })),
  });
  const columns = (id: string): string[] =>
    LEFT.includes(id) ? ['citizen_id', 'district', 'age'] : ['citizen_id', 'sector', 'income'];
  for (const [i, id] of [...LEFT.entries(), ...RIGHT.entries()].map(([k, a]) => [k, a] as const)) {
    const file = join(dir, `${id}.csv`);
    writeFileSync(file, [columns(id), ...rowsOf(id, i)].map((r) => `${csvRecord(r)}\n`).join(''));
    files.set(id, file);
  }
  for (const id of ids) await launch(id);
}, 120_000);

afterAll(async () => {
  await Promise.all([...processes.values()].map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('joins over gRPC with agency processes', () => {
  it('the anti-join and an inner join equal the plaintext join of every agency', async () => {
    await using c = await coordinator();
    const anti = await c.query(ANTI);
    await expectJoin(ANTI, anti.rows, LEFT, RIGHT);
    expect(anti.linkage?.sides.left.linked).toEqual(LEFT);
    expect(anti.linkage?.sides.right.linked).toEqual(RIGHT);
    const inner = await c.query(INNER);
    await expectJoin(INNER, inner.rows, LEFT, RIGHT);
    expect(inner.rows.length).toBeGreaterThan(0);
  }, 180_000);

  it('an agency of each side killed mid-query: the release covers the agencies that stayed', async () => {
    await using c = await coordinator();
    // hr-2 encrypts for the anti-join, psb-3 multiplies: both die when their turn comes.
    killAt.set('hr-2', 'encrypt');
    killAt.set('psb-3', 'aggregate');
    const anti = await c.query(ANTI);
    expect(anti.linkage?.sides.right.linked).toEqual(['hr-1']);
    expect(anti.linkage?.sides.right.failed.map((f) => f.id)).toEqual(['hr-2']);
    expect(anti.agencies.failed.map((f) => f.id)).toEqual(['psb-3']);
    expect(anti.agencies.answered).toEqual(['psb-1', 'psb-2', 'psb-4']);
    await expectJoin(ANTI, anti.rows, ['psb-1', 'psb-2', 'psb-4'], ['hr-1']);
  }, 180_000);
});
