/**
 * The transparency log: append throughput, offline verification throughput, proof sizes and
 * memory, against the bare Ed25519 verify rate measured in the same run.
 *
 * Entries are realistic: a real federation (initFederation: coordinator, key authority, five
 * agencies) and, per query, the 19 signed entries the system emits (query with its plan and SQL,
 * five budget charges, five contributions, survivors, five unmasks, a decryption, a release),
 * each signed by its own party; budgets stay exact and within limits, so the log verifies clean.
 *
 * Append: one at a time (each append awaited: one write + one fsync each) and grouped (4,096
 * appends in flight: one write, one fsync, one signed head per group). Signing the entries is the
 * authors' cost, done beforehand and not timed.
 *
 * Verification runs in a child process per size (so its peak RSS is its own, not the builder's):
 * first the bare rate, node:crypto `verify(null, data, key, sig)` with KeyObjects made from the raw
 * public keys over the first 20,000 entries' own signatures, then `verifyAuditLog` over the whole
 * file with its signed head, then the bare rate again. Headline ratio: verification entries/s ÷
 * the mean of the two bare rates, at the largest size (target ≥ 0.5).
 *
 * Online, per request (audit-online.ts): the operator building a query's proof, and an agency or
 * the key authority admitting it, in memory and with its --log-witness file, in microseconds and
 * in bare verifies.
 *
 *   npm run bench -- audit [--sizes 100000,1000000] [--single N] [--json]
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '../src/transparency/events.js';
import { renderTable } from '../src/cli/table.js';
import { rho as makeRho, rhoToString } from '../src/dp/rho.js';
import { loadFederation, partyOfRole } from '../src/federation/federation.js';
import { initFederation } from '../src/federation/init.js';
import { loadKeyFile } from '../src/federation/key-file.js';
import { parseSchema } from '../src/federation/schema.js';
import { proveEntry } from '../src/auditor/prove.js';
import { verifyAuditLog } from '../src/auditor/verify.js';
import { decodeEntry, entryFromEvent } from '../src/transparency/log-entry.js';
import { TransparencyLogStore } from '../src/transparency/log-store.js';
import { scanRecords } from '../src/transparency/log-scan.js';
import { logOperator } from '../src/transparency/log-operator.js';
import { treeHeadFromJson, treeHeadToJson, type SignedTreeHead } from '../src/merkle/tree-head.js';
import { measureOnline } from './audit-online.js';

const TARGET = 0.5;
const AGENCIES = ['cd-hrss', 'cd-psb', 'cd-cab', 'cd-hfpc', 'cd-edu'];
const PER_QUERY = 1 + 5 * 3 + 3;
const GROUP = 4096;
const BARE_SAMPLE = 20_000;
const SCHEMA = parseSchema(
  {
    datasets: {
      social_insurance: {
        columns: {
          district: { type: 'category', values: ['锦江区', '青羊区', '金牛区', '武侯区', '成华区'] },
          monthly_income: { type: 'integer', min: 0, max: 2_000_000 },
        },
      },
    },
  },
  'bench-audit-schema.json',
);

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

interface Fed {
  readonly dir: string;
  readonly federationFile: string;
  readonly logId: string;
  readonly keys: ReadonlyMap<string, Uint8Array>;
  readonly coordinator: string;
  readonly keyAuthority: string;
}

async function makeFederation(): Promise<Fed> {
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-bench-audit-'));
  const init = await initFederation({
    outDir: join(dir, 'fed'),
    schema: SCHEMA,
    policy: { minAgencies: 3, minGroupSize: 10, exactRelease: false },
    agencies: AGENCIES.map((id, i) => ({ id, endpoint: `10.0.0.${i + 1}:7300` })),
  });
  const keys = new Map(
    Object.entries(init.keyFiles).map(([id, f]) => [id, loadKeyFile(f, init.federation).signing.secretKey]),
  );
  return {
    dir,
    keys,
    federationFile: init.federationFile,
    logId: init.federation.id,
    coordinator: partyOfRole(init.federation, 'coordinator').id,
    keyAuthority: partyOfRole(init.federation, 'key-authority').id,
  };
}

/** The signed entries of queries [from, to): 19 per query, as the system emits them. */
function queryEntries(fed: Fed, from: number, to: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const RHO_DEN = 10n ** 7n; // ρ = 1e-7 per query: 10M queries fit a budget of 1, exactly
  const at0 = 1_800_000_000_000;
  const hex = (q: number, i: number): string => (q * 31 + i).toString(16).padStart(8, '0').repeat(8);
  const sign = (event: AuditEvent, author: string): void => {
    out.push(entryFromEvent(event, author, fed.keys.get(author)!));
  };
  for (let q = from; q < to; q++) {
    const queryId = (q + 1).toString(16).padStart(32, '0');
    const at = at0 + q * 1000;
    const rho = rhoToString(makeRho(1n, RHO_DEN));
    sign(
      {
        type: 'query',
        at,
        queryId,
        digest: hex(q, 7),
        agencies: AGENCIES,
        sql: 'SELECT district, COUNT(*), SUM(monthly_income) FROM social_insurance GROUP BY district',
        plan: {
          dataset: 'social_insurance',
          groupBy: ['district'],
          measures: [{ fn: 'count' }, { fn: 'sum', column: 'monthly_income' }],
          where: null,
        },
      },
      fed.coordinator,
    );
    for (const [i, a] of AGENCIES.entries()) {
      sign(
        {
          type: 'budget',
          at: at + 1,
          queryId,
          agencyId: a,
          dataset: 'social_insurance',
          rho,
          spent: rhoToString(makeRho(BigInt(q + 1), RHO_DEN)),
          budget: '1/1',
          ledgerHead: hex(q, i),
        },
        a,
      );
    }
    for (const [i, a] of AGENCIES.entries())
      sign({ type: 'contribution', at: at + 2, queryId, agencyId: a, digest: hex(q, i + 5) }, a);
    sign({ type: 'survivors', at: at + 3, queryId, survivors: AGENCIES, dropped: [] }, fed.coordinator);
    for (const a of AGENCIES)
      sign({ type: 'unmask', at: at + 4, queryId, agencyId: a, survivors: AGENCIES, dropped: [] }, a);
    sign(
      { type: 'decryption', at: at + 5, queryId, contributors: AGENCIES, dropped: [], ciphertextDigests: [hex(q, 11)] },
      fed.keyAuthority,
    );
    sign(
      { type: 'release', at: at + 6, queryId, contributors: AGENCIES, rows: 5, suppressed: 0, rho },
      fed.coordinator,
    );
  }
  return out;
}

interface Built {
  file: string;
  head: SignedTreeHead;
  appendMs: number;
  bytes: number;
  consistencyHashes: number;
}

/** Builds a log of `size` entries with grouped appends, timing the appends only. */
async function build(fed: Fed, size: number, progress: (done: number) => void): Promise<Built> {
  const file = join(fed.dir, `log-${size}.tlog`);
  const store = await TransparencyLogStore.open(file, { logId: fed.logId, secretKey: fed.keys.get(fed.coordinator)! });
  let appendMs = 0;
  let bytes = 0;
  try {
    for (let q = 0; store.size < size; q += 256) {
      const entries = queryEntries(fed, q, q + 256).slice(0, size - store.size);
      for (let i = 0; i < entries.length; i += GROUP) {
        const group = entries.slice(i, i + GROUP);
        const t = performance.now();
        await Promise.all(group.map((e) => store.append(e)));
        appendMs += performance.now() - t;
        for (const e of group) bytes += e.length;
      }
      progress(store.size);
    }
    return {
      file,
      head: store.treeHead(),
      appendMs,
      bytes,
      consistencyHashes: store.consistencyProof(Math.floor(size / 2) + 1).length,
    };
  } finally {
    await store.close();
  }
}

async function appendOneByOne(fed: Fed, n: number): Promise<number> {
  const store = await TransparencyLogStore.open(join(fed.dir, 'single.tlog'), {
    logId: fed.logId,
    secretKey: fed.keys.get(fed.coordinator)!,
  });
  const entries = queryEntries(fed, 0, Math.ceil(n / PER_QUERY)).slice(0, n);
  const t = performance.now();
  for (const e of entries) await store.append(e);
  const ms = performance.now() - t;
  await store.close();
  return ms;
}

interface ChildResult {
  bareBeforeMs: number;
  bareAfterMs: number;
  bareCount: number;
  verifyMs: number;
  size: number;
  ok: boolean;
  findings: number;
  maxRssMb: number;
}

/** In the child: the bare node:crypto verify rate over the log's own signatures, then the full audit. */
async function childVerify(file: string, federationFile: string, headJson: string): Promise<ChildResult> {
  const federation = loadFederation(federationFile);
  const keyObjects = new Map<string, KeyObject>(
    federation.parties.map((p) => [
      p.id,
      createPublicKey({
        key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), p.signingKey]),
        format: 'der',
        type: 'spki',
      }),
    ]),
  );
  const sample: { data: Uint8Array; sig: Uint8Array; key: KeyObject }[] = [];
  const { open } = await import('node:fs/promises');
  const h = await open(file, 'r');
  for await (const r of scanRecords(h)) {
    const d = decodeEntry(Uint8Array.from(r.entry));
    sample.push({ data: d.signed, sig: d.signature, key: keyObjects.get(d.author)! });
    if (sample.length === BARE_SAMPLE) break;
  }
  await h.close();
  const bare = (): number => {
    let best = Infinity;
    for (let rep = 0; rep < 2; rep++) {
      const t = performance.now();
      for (const x of sample)
        if (!nodeVerify(null, x.data, x.key, x.sig)) throw new Error('a sample signature does not verify');
      best = Math.min(best, performance.now() - t);
    }
    return best;
  };
  const bareBeforeMs = bare();
  const head = treeHeadFromJson(JSON.parse(headJson));
  const t = performance.now();
  const report = await verifyAuditLog(file, {
    federation,
    heads: [head],
    operatorKey: logOperator(federation).publicKey,
  });
  const verifyMs = performance.now() - t;
  const bareAfterMs = bare();
  return {
    bareBeforeMs,
    bareAfterMs,
    bareCount: Math.min(BARE_SAMPLE, report.size),
    verifyMs,
    size: report.size,
    ok: report.ok,
    findings: report.findingCount,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

const here = fileURLToPath(import.meta.url);
if (process.argv[1] === here && process.argv[2] === '--verify-child') {
  const [file, fedFile, head] = process.argv.slice(3);
  process.stdout.write(`${JSON.stringify(await childVerify(file!, fedFile!, head!))}\n`);
}

const perSec = (n: number, ms: number): number => Math.round(n / (ms / 1000));
const fmt = (n: number): string => n.toLocaleString('en-US');

export async function run(args: readonly string[], json: boolean): Promise<void> {
  const sizes = (option(args, '--sizes') ?? '100000,1000000').split(',').map(Number);
  const single = Number(option(args, '--single') ?? 2000);
  if (sizes.some((s) => !Number.isSafeInteger(s) || s < 2) || !Number.isSafeInteger(single) || single < 1) {
    throw new RangeError('--sizes needs integers ≥ 2 and --single a positive integer');
  }
  const load0 = loadavg();
  const fed = await makeFederation();
  const log = (s: string): void => {
    if (!json) process.stderr.write(s);
  };
  try {
    const singleMs = await appendOneByOne(fed, single);
    const rows = [];
    for (const size of sizes) {
      const built = await build(fed, size, (d) => log(`\rbuilding ${fmt(size)}-entry log: ${fmt(d)}`));
      log(`\rverifying ${fmt(size)} entries in a child process…${' '.repeat(20)}\n`);
      const child = JSON.parse(
        execFileSync(
          process.execPath,
          [here, '--verify-child', built.file, fed.federationFile, JSON.stringify(treeHeadToJson(built.head))],
          { encoding: 'utf8', maxBuffer: 1 << 20 },
        ),
      ) as ChildResult;
      if (!child.ok || child.size !== size)
        throw new Error(`the ${size}-entry log did not verify clean (${child.findings} findings)`);
      const proof = await proveEntry(
        built.file,
        0,
        built.head,
        logOperator(loadFederation(fed.federationFile)).publicKey,
      );
      // The bare rate before and after the verification, averaged: on a shared machine the load
      // drifts over a long run, and the verification's own time spans both.
      const bareBefore = perSec(child.bareCount, child.bareBeforeMs);
      const bareAfter = perSec(child.bareCount, child.bareAfterMs);
      const bare = Math.round((bareBefore + bareAfter) / 2);
      const verify = perSec(size, child.verifyMs);
      log(`measuring the online check on the ${fmt(size)}-entry log…\n`);
      const online = await measureOnline(
        built.file,
        loadFederation(fed.federationFile),
        fed.keys.get(fed.coordinator)!,
        PER_QUERY,
      );
      rows.push({
        entries: size,
        meanEntryBytes: Math.round(built.bytes / size),
        fileMb: Math.round(statSync(built.file).size / 1e5) / 10,
        groupedAppendPerSec: perSec(size, built.appendMs),
        verifyMs: Math.round(child.verifyMs),
        verifyPerSec: verify,
        bareVerifyPerSec: bare,
        bareBefore,
        bareAfter,
        ratio: Math.round((verify / bare) * 1000) / 1000,
        verifyPeakRssMb: Math.round(child.maxRssMb),
        inclusionProofHashes: proof.auditPath.length,
        inclusionProofJsonBytes: JSON.stringify(proof).length,
        consistencyProofHashes: built.consistencyHashes,
        online,
        onlineAdmitInBareVerifies: Math.round((online.admitUs / 1e6) * bare * 10) / 10,
      });
      rmSync(built.file, { force: true });
    }
    const load1 = loadavg();
    const last = rows[rows.length - 1]!;
    const result = {
      benchmark: 'audit',
      ratio: last.ratio,
      target: TARGET,
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model ?? '?',
        loadavgBefore: load0.map((x) => Math.round(x * 100) / 100),
        loadavgAfter: load1.map((x) => Math.round(x * 100) / 100),
        node: process.version,
      },
      singleAppend: { entries: single, perSec: perSec(single, singleMs) },
      sizes: rows,
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `${renderTable(
        [
          'entries',
          'B/entry',
          'file',
          'grouped append/s',
          'verify',
          'verify/s',
          'bare verify/s (before/after)',
          'ratio',
          'verify peak RSS',
          'incl. proof',
          'cons. proof',
        ],
        rows.map((r) => [
          fmt(r.entries),
          String(r.meanEntryBytes),
          `${r.fileMb} MB`,
          fmt(r.groupedAppendPerSec),
          `${(r.verifyMs / 1000).toFixed(1)} s`,
          fmt(r.verifyPerSec),
          `${fmt(r.bareVerifyPerSec)} (${fmt(r.bareBefore)}/${fmt(r.bareAfter)})`,
          `${(r.ratio * 100).toFixed(0)} %`,
          `${r.verifyPeakRssMb} MB`,
          `${r.inclusionProofHashes} × 32 B (${r.inclusionProofJsonBytes} B JSON)`,
          `${r.consistencyProofHashes} × 32 B`,
        ]),
        ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'left'],
      )}\n`,
    );
    process.stdout.write(
      `\nonline, per request (a recipient holding the head of 5 queries ago is sent the last query's proof; median of 200):\n${renderTable(
        [
          'entries',
          'operator: build proof',
          'recipient: admit',
          'in bare verifies',
          'admit + witness file',
          'proof on the wire',
        ],
        rows.map((r) => [
          fmt(r.entries),
          `${r.online.buildProofUs} µs`,
          `${r.online.admitUs} µs`,
          `${r.onlineAdmitInBareVerifies}`,
          `${(r.online.admitWithFileUs / 1000).toFixed(2)} ms`,
          `${fmt(r.online.proofBytes)} B (${r.online.inclusionHashes} + ${r.online.consistencyHashes} hashes)`,
        ]),
        ['right', 'right', 'right', 'right', 'right', 'left'],
      )}\n`,
    );
    process.stdout.write(
      `one-at-a-time append (await each: write + fsync): ${fmt(result.singleAppend.perSec)} entries/s over ${fmt(single)}\n`,
    );
    process.stdout.write(
      `target: verification ≥ ${TARGET * 100} % of the bare node:crypto Ed25519 verify rate: ${last.ratio >= TARGET ? 'met' : 'NOT met'} (${(last.ratio * 100).toFixed(0)} %)\n`,
    );
    process.stdout.write(
      `machine: ${result.machine.cpus} × ${result.machine.model}, load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after; node ${process.version}\n`,
    );
  } finally {
    rmSync(fed.dir, { recursive: true, force: true });
  }
}
