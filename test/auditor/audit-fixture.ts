/**
 * A real federation (written by initFederation in a temp folder: coordinator, key authority and
 * three agencies with their key files) and helpers to write audit logs of signed entries with
 * TransparencyLogStore, the way the wiring will: every party signs its own events, the
 * coordinator's key signs the tree heads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/transparency/events.js';
import { partyOfRole, type Federation } from '../../src/federation/federation.js';
import { initFederation } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { parseSchema } from '../../src/federation/schema.js';
import { entryFromEvent } from '../../src/transparency/log-entry.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import type { SignedTreeHead } from '../../src/merkle/tree-head.js';

export interface AuditFixture {
  readonly dir: string;
  readonly federation: Federation;
  readonly federationFile: string;
  /** Party id → 64-byte Ed25519 secret key. */
  readonly keys: ReadonlyMap<string, Uint8Array>;
  readonly coordinator: string;
  readonly keyAuthority: string;
  readonly agencies: readonly string[];
  /** Signs `event` as `author` (with that party's own key unless `key` is given). */
  entry(event: AuditEvent, author: string, key?: Uint8Array): Uint8Array;
  /** Writes a log of `entries` at `name` in the folder; returns its path and final head. */
  writeLog(
    name: string,
    entries: readonly Uint8Array[],
  ): Promise<{ file: string; head: SignedTreeHead; heads: SignedTreeHead[] }>;
  close(): void;
}

export async function createAuditFixture(minAgencies = 2): Promise<AuditFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-audit-'));
  const schema = parseSchema(
    {
      datasets: {
        residents: {
          columns: {
            district: { type: 'category', values: ['锦江区', '青羊区'] },
            age: { type: 'integer', min: 0, max: 120 },
          },
        },
        firms: { columns: { sector: { type: 'category', values: ['a', 'b'] } } },
      },
    },
    'audit-schema.json',
  );
  const init = await initFederation({
    outDir: join(dir, 'fed'),
    schema,
    policy: { minAgencies, minGroupSize: 1, exactRelease: true },
    agencies: [
      { id: 'a1', endpoint: '127.0.0.1:7301' },
      { id: 'a2', endpoint: '127.0.0.1:7302' },
      { id: 'a3', endpoint: '127.0.0.1:7303' },
    ],
  });
  const { federation } = init;
  const keys = new Map(
    Object.entries(init.keyFiles).map(([id, file]) => [id, loadKeyFile(file, federation).signing.secretKey]),
  );
  const coordinator = partyOfRole(federation, 'coordinator').id;
  const entry = (event: AuditEvent, author: string, key?: Uint8Array): Uint8Array =>
    entryFromEvent(event, author, key ?? keys.get(author)!);
  return {
    dir,
    federation,
    keys,
    coordinator,
    entry,
    federationFile: init.federationFile,
    keyAuthority: partyOfRole(federation, 'key-authority').id,
    agencies: ['a1', 'a2', 'a3'],
    async writeLog(name, entries) {
      const file = join(dir, name);
      const store = await TransparencyLogStore.open(file, {
        logId: federation.id,
        secretKey: keys.get(coordinator)!,
        now: () => 1_800_000_000_000,
      });
      const heads: SignedTreeHead[] = [];
      try {
        for (const e of entries) heads.push((await store.append(e)).treeHead);
        return { file, head: store.treeHead(), heads };
      } finally {
        await store.close();
      }
    },
    close: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The events of one complete DP query, as the system emits them, with its authors. */
export function queryEvents(
  queryId: string,
  agencies: readonly string[],
  at: number,
  options: {
    coordinator: string;
    keyAuthority: string;
    dataset?: string;
    rho?: string;
    spentBefore?: readonly string[];
    budget?: string;
  },
): { event: AuditEvent; author: string }[] {
  const dataset = options.dataset ?? 'residents';
  const rho = options.rho ?? '1/20';
  const digest = (i: number): string => i.toString(16).padStart(2, '0').repeat(32);
  return [
    {
      author: options.coordinator,
      event: {
        type: 'query',
        at,
        queryId,
        digest: digest(9),
        sql: `SELECT COUNT(*) FROM ${dataset}`,
        plan: { dataset, groupBy: ['district'] },
        agencies,
      },
    },
    ...agencies.map((a, i) => ({
      author: a,
      event: {
        type: 'budget' as const,
        at: at + 1,
        queryId,
        agencyId: a,
        dataset,
        rho,
        spent: options.spentBefore?.[i] ?? rho,
        budget: options.budget ?? '1/1',
        ledgerHead: digest(i),
      },
    })),
    ...agencies.map((a, i) => ({
      author: a,
      event: { type: 'contribution' as const, at: at + 2, queryId, agencyId: a, digest: digest(i) },
    })),
    {
      author: options.coordinator,
      event: { type: 'survivors', at: at + 3, queryId, survivors: agencies, dropped: [] },
    },
    ...agencies.map((a) => ({
      author: a,
      event: { type: 'unmask' as const, at: at + 4, queryId, agencyId: a, survivors: agencies, dropped: [] },
    })),
    {
      author: options.keyAuthority,
      event: {
        type: 'decryption',
        at: at + 5,
        queryId,
        contributors: agencies,
        dropped: [],
        ciphertextDigests: [digest(9)],
      },
    },
    {
      author: options.coordinator,
      event: { type: 'release', at: at + 6, queryId, contributors: agencies, rows: 2, suppressed: 0, rho },
    },
  ];
}
