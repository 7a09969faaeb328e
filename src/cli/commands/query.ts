import type { Command } from 'commander';
import { JsonlAuditSink } from '../../transparency/events.js';
import { connectCoordinator } from '../../coordinator/connect.js';
import type { QueryExplanation, QueryResult } from '../../coordinator/coordinator.js';
import type { DryRunPrediction } from '../../coordinator/dry-run.js';
import type { CellValue } from '../../coordinator/release.js';
import { parseDelta } from '../../dp/privacy-parameters.js';
import { parseQueryRho } from '../../protocol/privacy-terms.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { armExitGuard } from '../exit-guard.js';
import { action, parseIntOption } from '../run.js';
import { formatInteger, formatMs, formatNumber, renderTable } from '../table.js';

/** Longest wait for a Describe answer (it does no work: a peer that takes longer is hung). */
const DESCRIBE_DEADLINE_MS = 5_000;

/** The `query --json` document. */
export function queryJson(r: QueryResult): unknown {
  return {
    queryId: r.queryId,
    rows: r.rows,
    uncertainty: r.uncertainty,
    privacy: r.privacy,
    agencies: { answered: r.agencies.answered, failed: r.agencies.failed },
    secureAggregation: r.secureAggregation,
    suppressed: r.suppressed,
    suppression: r.suppression,
    columns: r.columns,
    timings: r.timings,
    ...(r.linkage === undefined ? {} : { linkage: r.linkage }),
  };
}

/** A released value for humans: null is a total over that column (ROLLUP / CUBE). */
function cell(v: CellValue | undefined): string {
  return v === null || v === undefined ? '(all)' : formatNumber(v);
}

export function renderResult(r: QueryResult): string {
  const headers: string[] = [];
  const align: ('left' | 'right')[] = [];
  for (const c of r.columns) {
    headers.push(c.name);
    align.push(c.kind === 'group' ? 'left' : 'right');
    if (r.uncertainty !== null && c.kind !== 'group') {
      headers.push(`${c.name} 95% CI`);
      align.push('right');
    }
  }
  const rows = r.rows.map((row, i) =>
    r.columns.flatMap((c) => {
      const u = r.uncertainty?.[i]?.[c.name];
      const value = cell(row[c.name]);
      return u === undefined ? [value] : [value, `${formatNumber(u.ci95[0])} – ${formatNumber(u.ci95[1])}`];
    }),
  );
  const out = [renderTable(headers, rows, align)];
  const notes = [
    `${r.rows.length} rows`,
    `${r.agencies.answered.length} agencies`,
    `${r.ciphertexts} ciphertext${r.ciphertexts === 1 ? '' : 's'} each`,
    formatMs(r.timings.totalMs),
  ];
  const s = r.suppression;
  if (r.suppressed > 0) {
    const why =
      r.privacy !== null
        ? `noisy count below minGroupSize ${s.minGroupSize}`
        : s.complementary > 0
          ? `${s.primary} below minGroupSize ${s.minGroupSize}, ${s.complementary} more so that none can be recomputed from the totals`
          : `fewer than minGroupSize ${s.minGroupSize} records`;
    notes.push(`${r.suppressed} cell${r.suppressed === 1 ? '' : 's'} withheld (${why})`);
  }
  out.push(`(${notes.join('; ')}; query ${r.queryId})`);
  const p = r.privacy;
  if (p !== null) {
    out.push(
      `(differential privacy: rho ${p.rho} spent at each agency, i.e. (${p.epsilon.toFixed(3)}, ${p.delta})-DP; Skellam noise from ${p.survivors} agencies, threshold ${p.threshold}; counts clamped at 0)`,
    );
  }
  const sa = r.secureAggregation;
  if (sa !== null) {
    out.push(
      `(secure aggregation: ${sa.survivors.length} survivors unmasked, ${sa.dropped.length} dropped; threshold ${sa.threshold})`,
    );
    for (const f of sa.unmaskFailed)
      out.push(
        `note: agency ${f.id} contributed but was lost in round 2 (${f.reason}); its share of the unmasking was not needed`,
      );
  }
  const l = r.linkage;
  if (l !== undefined) {
    const side = (name: 'left' | 'right'): string =>
      `${l.sides[name].dataset} ${l.sides[name].linked.length} agenc${l.sides[name].linked.length === 1 ? 'y' : 'ies'}`;
    out.push(
      `(linked records: ${side('left')} ⋈ ${side('right')}; ${formatInteger(l.positions)} ids blinded; ${formatBytes(l.bytes.encrypted)} of encrypted components from ${l.encrypting === 'left' ? l.sides.left.dataset : l.sides.right.dataset})`,
    );
    for (const name of ['left', 'right'] as const)
      for (const f of l.sides[name].failed)
        out.push(`warning: agency ${f.id} (${l.sides[name].dataset}) is not in the join: ${f.reason}`);
  }
  for (const f of r.agencies.failed) out.push(`warning: agency ${f.id} did not contribute: ${f.reason}`);
  if (r.agencies.failed.length > 0)
    out.push(
      'warning: the result covers only the agencies that answered; pass --require-all to refuse partial results',
    );
  return out.join('\n');
}

export function renderPrediction(p: DryRunPrediction): string {
  const out: string[] = [];
  const v = p.privacy;
  if (v === null) out.push('privacy: exact release (no noise)');
  else {
    out.push(
      `privacy: rho ${v.rho} at each agency = (${v.epsilon.toFixed(3)}, ${v.delta})-DP; Skellam mu ${v.mu}, each agency adds Skellam(${v.agencyMu}) per cell (threshold ${v.threshold})`,
    );
    out.push(`noise per released count: stderr ${v.countStderr.toFixed(2)}, 95% within ±${v.countHalfWidth95}`);
  }
  out.push(
    renderTable(
      ['agency', 'would answer', 'remaining rho'],
      p.agencies.map((a) => [a.id, a.refusal === null ? 'yes' : `no: ${a.refusal}`, a.remaining ?? '—']),
      ['left', 'left', 'right'],
    ),
  );
  out.push(
    p.enough
      ? `${p.answering} agencies would answer: enough for a release`
      : `only ${p.answering} agencies would answer: the query would be refused`,
  );
  return out.join('\n');
}

/** The formatted size of a byte count (kB, MB, GB). */
function formatBytes(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u] ?? ''}`;
}

/** The join lines of an explanation: sides, components, sensitivity and what linking costs. */
function renderJoin(j: NonNullable<QueryExplanation['join']>): string[] {
  const dataset = (side: 'left' | 'right'): string => (side === 'left' ? j.left : j.right);
  return [
    `join: ${j.kind === 'anti' ? 'anti-join (NOT EXISTS)' : 'inner join'} of ${j.left} and ${j.right} on their ids (ECDH-PSI over Curve25519, keys fresh for every query)`,
    `  ${dataset(j.encrypting)} agencies encrypt ${j.components[j.encrypting]} component${j.components[j.encrypting] === 1 ? '' : 's'} per id under BFV; ${dataset(j.multiplying)} agencies multiply with their ${j.components[j.multiplying]} and answer round 1`,
    `  per id linked: 1 hash, 2 scalar multiplications (one at its agency, one at the other side), ${j.perId.bytes} bytes through the coordinator`,
    `  per ${formatInteger(j.idsPerBlock)} ids of all agencies: ${j.components[j.encrypting]} ciphertext${j.components[j.encrypting] === 1 ? '' : 's'} of ${formatBytes(j.ciphertextBytes)} from each ${dataset(j.encrypting)} agency, and to each ${dataset(j.multiplying)} agency`,
    `  sensitivity: one record is part of at most ${j.sensitivity} joined records (--max-rows-per-id ${j.maxRowsPerId} × the other side's agencies); the noise is sized for it`,
  ];
}

function renderExplanation(x: QueryExplanation): string {
  const bits = (n: bigint): string => `2^${Math.log2(Number(n)).toFixed(1)}`;
  return [
    x.sql,
    ...(x.join === undefined ? [] : renderJoin(x.join)),
    `groups: ${formatInteger(x.groups)}; per group: ${x.measures.join(', ')}`,
    `slots: ${formatInteger(x.slotsUsed)} in ${x.ciphertexts} ciphertext${x.ciphertexts === 1 ? '' : 's'} per agency; limb base ${bits(x.limbBase)}`,
    `no-wrap proof: with up to ${x.parties} contributing agencies ${x.noiseBound > 0n ? `(each adding noise within ±${formatInteger(x.noiseBound)} per cell) ` : ''}every slot total lies in a range of ${formatInteger(x.worstSlotTotal)} (${bits(x.worstSlotTotal)}) < plain modulus ${formatInteger(x.plainModulus)} (${bits(x.plainModulus)})`,
  ].join('\n');
}

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('run an encrypted cross-agency query; only the total over the agencies is ever decrypted')
    .argument('<sql>', 'SELECT [g1, g2,] COUNT(*), SUM(col), AVG(col) FROM dataset [WHERE ...] [GROUP BY g1[, g2]]')
    .requiredOption('--federation <file>', 'federation.json')
    .option('--key <file>', 'coordinator key file (default: keys/coordinator.key beside the federation file)')
    .option(
      '--key-authority-key <file>',
      'key authority key file for the in-process key authority (default: keys/key-authority.key)',
    )
    .option(
      '--deadline <ms>',
      "time allowed for each remote step: every agency's answer in each round and the key authority's decryption; asking who serves what (also for --dry-run) waits at most the smaller of this and 5 s",
      parseIntOption('--deadline', 1),
      30_000,
    )
    .option('--require-all', 'fail when any agency serving the dataset fails to contribute')
    .option(
      '--rho <rho>',
      'release with differential privacy: the zCDP budget (e.g. 0.05 or 1/40) this query spends at every agency',
    )
    .option('--delta <delta>', 'delta for the (epsilon, delta) shown beside rho (display only)', '1e-9')
    .option('--dry-run', 'show what the query would cost and which agencies would refuse it, spending nothing')
    .option(
      '--threshold <n>',
      'secure-aggregation threshold: survivors needed to unmask (default ⌈2n/3⌉, at least a majority)',
      parseIntOption('--threshold', 1),
    )
    .option('--insecure', 'plain TCP instead of mTLS; only to agencies on loopback addresses')
    .option('--audit-log <file>', 'append the query, the decryption and the release to this JSON-lines file')
    .option(
      '--transparency-log <file>',
      "operate this transparency log (created if missing; default when the federation requires one: transparency.log beside the federation file): the query, the agencies' signed entries, the decryption and the release are appended and the signed tree head published as FILE.head.json (verify with fedstat audit verify)",
    )
    .option('--explain', 'show the plan, its slot layout and the no-wrap proof, without contacting any agency')
    .option(
      '--max-rows-per-id <n>',
      'join queries: at most this many rows share one id at one agency (default 1); agencies refuse data with more',
      parseIntOption('--max-rows-per-id', 1, 64),
    )
    .option('--json', 'print the result as JSON')
    .action(
      action(async (sql: string, opts: QueryCliOptions, cmd: Command) => {
        try {
          await runQuery(sql, opts);
        } finally {
          armExitGuard({ verbose: cmd.optsWithGlobals<{ verbose?: boolean }>().verbose === true });
        }
      }),
    );
}

interface QueryCliOptions {
  federation: string;
  key?: string;
  keyAuthorityKey?: string;
  deadline: number;
  requireAll?: boolean;
  threshold?: number;
  insecure?: boolean;
  auditLog?: string;
  transparencyLog?: string;
  explain?: boolean;
  json?: boolean;
  rho?: string;
  delta: string;
  dryRun?: boolean;
  maxRowsPerId?: number;
}

/** The query command; everything it opens is closed when it returns or throws. */
async function runQuery(sql: string, opts: QueryCliOptions): Promise<void> {
  const json = opts.json === true;
  const privacy =
    opts.rho === undefined
      ? undefined
      : {
          rho: parseQueryRho(opts.rho, { name: '--rho', spell: (v) => `--rho ${v}` }),
          delta: parseDelta(opts.delta, { name: '--delta', code: 'CONFIG_INVALID' }),
        };
  await using coordinator = await connectCoordinator({
    federation: opts.federation,
    ...(opts.key === undefined ? {} : { keyFile: opts.key }),
    ...(opts.keyAuthorityKey === undefined ? {} : { keyAuthorityKeyFile: opts.keyAuthorityKey }),
    ...(opts.auditLog === undefined ? {} : { audit: new JsonlAuditSink(opts.auditLog) }),
    // --explain and --dry-run ask nothing and log nothing: the log is neither opened nor locked.
    ...(opts.explain === true || opts.dryRun === true
      ? { transparencyLog: false as const }
      : opts.transparencyLog === undefined
        ? {}
        : { transparencyLog: opts.transparencyLog }),
    insecure: opts.insecure === true,
    describeDeadlineMs: Math.min(opts.deadline, DESCRIBE_DEADLINE_MS),
    keyAuthorityDeadlineMs: opts.deadline,
  });
  const perId = opts.maxRowsPerId === undefined ? {} : { maxRowsPerId: opts.maxRowsPerId };
  if (opts.explain === true) {
    const x = coordinator.explain(sql, {
      ...perId,
      ...(privacy === undefined ? {} : { privacy }),
      ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }),
    });
    process.stdout.write(json ? `${toJson(x)}\n` : `${renderExplanation(x)}\n`);
    return;
  }
  if (opts.dryRun === true) {
    const x = await coordinator.dryRun(sql, {
      ...perId,
      ...(privacy === undefined ? {} : { privacy }),
      ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }),
    });
    const other = 'encryptingPrediction' in x ? (x.encryptingPrediction as DryRunPrediction) : null;
    const more = other === null ? '' : `${renderPrediction(other)}\n`;
    process.stdout.write(
      json ? `${toJson(x)}\n` : `${renderExplanation(x)}\n${renderPrediction(x.prediction)}\n${more}`,
    );
    return;
  }
  const bar = progressBar('query', { json });
  const result = await coordinator.query(sql, {
    ...perId,
    ...(privacy === undefined ? {} : { privacy }),
    deadlineMs: opts.deadline,
    requireAll: opts.requireAll === true,
    ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }),
    onProgress: (e) => {
      if (e.phase === 'answered' || e.phase === 'failed') bar.update(e.done, e.total, e.agency);
      if (e.phase === 'unmasking') bar.update(1, 1, 'unmasking');
      if (e.phase === 'decrypting') bar.update(1, 1, 'decrypting');
    },
  });
  bar.done();
  process.stdout.write(json ? `${toJson(queryJson(result))}\n` : `${renderResult(result)}\n`);
}
