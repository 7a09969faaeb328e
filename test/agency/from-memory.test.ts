/**
 * An agency built from configuration held in memory, as a service that keeps its keys in a
 * secrets store would build it: the federation document, the key file, the HE public key and the
 * CA certificate are read into memory, the files are deleted, and the agency (created and served
 * through the root entry point only) still answers an encrypted query over mTLS.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCoordinator } from '../../src/coordinator/connect.js';
import { freePorts } from '../../src/demo/free-port.js';
import { initFederation, type InitResult } from '../../src/federation/init.js';
import {
  agencyMaterialFrom,
  createAgency,
  openDuckDbStore,
  serveAgency,
  type Agency,
  type AgencyMaterialSource,
  type RunningServer,
} from '../../src/index.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { makeRows, TEST_SCHEMA, writeCsv, type Row } from '../helpers/test-federation.js';

const IDS = ['agency-1', 'agency-2'];
let dir: string;
let init: InitResult;
let coordinatorFiles: string;
const sources = new Map<string, AgencyMaterialSource>();
const rows = new Map<string, Row[]>();
const running: { agency: Agency; server: RunningServer }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-memory-'));
  const ports = await freePorts(IDS.length);
  init = await initFederation({
    outDir: join(dir, 'fed'),
    schema: TEST_SCHEMA,
    agencies: IDS.map((id, i) => ({ id, endpoint: `127.0.0.1:${ports[i]}` })),
    policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true, transparencyLog: false },
  });
  // The coordinator keeps its own copy of the public files and its key; the agencies' key files are not in it.
  coordinatorFiles = join(dir, 'coordinator');
  cpSync(join(dir, 'fed'), coordinatorFiles, { recursive: true });
  for (const id of IDS) rmSync(join(coordinatorFiles, 'keys', `${id}.key`));
  for (const id of IDS) {
    sources.set(id, {
      federation: readFileSync(init.federationFile, 'utf8'),
      keyFile: readFileSync(init.keyFiles[id]!, 'utf8'),
      hePublicKey: new Uint8Array(readFileSync(join(dir, 'fed', 'he-public.key'))),
      caCertificate: readFileSync(join(dir, 'fed', 'ca.crt'), 'utf8'),
      label: `${id}'s configuration`,
    });
  }
  rmSync(join(dir, 'fed'), { recursive: true }); // from here on, the agencies have their material only in memory
  IDS.forEach((id, i) => {
    rows.set(id, makeRows(150, 70 + i));
    writeCsv(join(dir, `${id}.csv`), rows.get(id)!);
  });
});

afterAll(async () => {
  for (const r of running) {
    await r.server.close();
    await r.agency.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('an agency from configuration held in memory', () => {
  it('is created and served with no file of the federation on disk, and answers over mTLS', async () => {
    for (const id of IDS) {
      const material = agencyMaterialFrom(sources.get(id)!);
      const store = await openDuckDbStore(':memory:');
      await store.loadCsv('residents', material.federation.schema.datasets['residents']!, join(dir, `${id}.csv`));
      const agency = await createAgency({ ...material, store });
      running.push({ agency, server: await serveAgency(agency, material) });
    }
    await using coordinator = await connectCoordinator({ federation: join(coordinatorFiles, 'federation.json') });
    const result = await coordinator.query('SELECT district, COUNT(*) FROM residents GROUP BY district');
    const expected = new Map<string, number>();
    for (const r of [...rows.values()].flat()) expected.set(r.district, (expected.get(r.district) ?? 0) + 1);
    expect(Object.fromEntries(result.rows.map((r) => [r['district'], Number(r['count'])]))).toEqual(
      Object.fromEntries(expected),
    );
  });

  it('checks what it is given as the file loaders do, naming the source', () => {
    const good = sources.get('agency-1')!;
    const wrongKey = fedstatErrorOf(() => agencyMaterialFrom({ ...good, hePublicKey: good.hePublicKey.slice(1) }));
    expect(wrongKey.code).toBe('KEY_INVALID');
    expect(wrongKey.message).toMatch(/HE public key given does not match the hash in agency-1's configuration/);

    const { caCertificate: _ca, ...noCa } = good;
    const missingCa = fedstatErrorOf(() => agencyMaterialFrom(noCa));
    expect(missingCa.code).toBe('KEY_INVALID');
    expect(missingCa.message).toMatch(/cannot be checked without the federation CA certificate; pass the ca\.crt/);

    const otherCa = fedstatErrorOf(() =>
      agencyMaterialFrom({ ...good, caCertificate: good.caCertificate!.replace('A', 'B') }),
    );
    expect(otherCa.code).toBe('KEY_INVALID');
    expect(otherCa.message).toMatch(/CA certificate given does not match the hash/);

    const badJson = fedstatErrorOf(() => agencyMaterialFrom({ ...good, federation: '{"fedstat": 1,' }));
    expect(badJson.code).toBe('CONFIG_INVALID');
    expect(badJson.message).toMatch(/^agency-1's configuration: not valid JSON/);

    const otherParty = fedstatErrorOf(() =>
      agencyMaterialFrom({ ...good, keyFile: good.keyFile.replace('"agency-1"', '"agency-9"') }),
    );
    expect(otherParty.code).toBe('KEY_INVALID');
    expect(otherParty.message).toContain("agency-1's configuration: key file");
    expect(otherParty.message).not.toContain(JSON.parse(good.keyFile).signingSeed);
  });
});
