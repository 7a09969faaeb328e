import type { Command } from 'commander';
import { JsonlAuditSink } from '../../audit/events.js';
import { connectCoordinator } from '../../coordinator/connect.js';
import type { QueryExplanation, QueryResult } from '../../coordinator/coordinator.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { action, parseIntOption } from '../run.js';
import { formatInteger, formatMs, formatNumber, renderTable } from '../table.js';

/** The `query --json` document. */
export function queryJson(r: QueryResult): unknown {
  return {
    queryId: r.queryId,
    rows: r.rows,
    agencies: { answered: r.agencies.answered, failed: r.agencies.failed },
    secureAggregation: r.secureAggregation,
    suppressed: r.suppressed,
    columns: r.columns,
    timings: r.timings,
  };
}

export function renderResult(r: QueryResult): string {
  const headers = r.columns.map((c) => c.name);
  const rows = r.rows.map((row) => r.columns.map((c) => formatNumber(row[c.name] ?? '')));
  const out = [renderTable(headers, rows, r.columns.map((c) => (c.kind === 'group' ? 'left' : 'right')))];
  const notes = [`${r.rows.length} rows`, `${r.agencies.answered.length} agencies`, `${r.ciphertexts} ciphertext${r.ciphertexts === 1 ? '' : 's'} each`, formatMs(r.timings.totalMs)];
  if (r.suppressed > 0) notes.push(`${r.suppressed} group${r.suppressed === 1 ? '' : 's'} withheld (fewer than minGroupSize records)`);
  out.push(`(${notes.join('; ')}; query ${r.queryId})`);
  const sa = r.secureAggregation;
  if (sa !== null) {
    out.push(`(secure aggregation: ${sa.survivors.length} survivors unmasked, ${sa.dropped.length} dropped; threshold ${sa.threshold})`);
    for (const f of sa.unmaskFailed) out.push(`note: agency ${f.id} contributed but was lost in round 2 (${f.reason}); its share of the unmasking was not needed`);
  }
  for (const f of r.agencies.failed) out.push(`warning: agency ${f.id} did not contribute: ${f.reason}`);
  if (r.agencies.failed.length > 0) out.push('warning: the result covers only the agencies that answered; pass --require-all to refuse partial results');
  return out.join('\n');
}

export function renderExplanation(x: QueryExplanation): string {
  const bits = (n: bigint): string => `2^${(Math.log2(Number(n))).toFixed(1)}`;
  return [
    x.sql,
    `groups: ${formatInteger(x.groups)}; per group: ${x.measures.join(', ')}`,
    `slots: ${formatInteger(x.slotsUsed)} in ${x.ciphertexts} ciphertext${x.ciphertexts === 1 ? '' : 's'} per agency; limb base ${bits(x.limbBase)}`,
    `no-wrap proof: with up to ${x.parties} contributing agencies the largest slot total is ${formatInteger(x.worstSlotTotal)} (${bits(x.worstSlotTotal)}) < plain modulus ${formatInteger(x.plainModulus)} (${bits(x.plainModulus)})`,
  ].join('\n');
}

export function registerQuery(program: Command): void {
  program.command('query')
    .description('run an encrypted cross-agency query; only the total over the agencies is ever decrypted')
    .argument('<sql>', 'SELECT [g1, g2,] COUNT(*), SUM(col), AVG(col) FROM dataset [WHERE ...] [GROUP BY g1[, g2]]')
    .requiredOption('--federation <file>', 'federation.json')
    .option('--key <file>', 'coordinator key file (default: keys/coordinator.key beside the federation file)')
    .option('--key-authority-key <file>', 'key authority key file for the in-process key authority (default: keys/key-authority.key)')
    .option('--deadline <ms>', 'time allowed for every agency to answer', parseIntOption('--deadline', 1), 30_000)
    .option('--require-all', 'fail when any agency serving the dataset fails to contribute')
    .option('--threshold <n>', 'secure-aggregation threshold: survivors needed to unmask (default ⌈2n/3⌉, at least a majority)', parseIntOption('--threshold', 1))
    .option('--insecure', 'plain TCP instead of mTLS; only to agencies on loopback addresses')
    .option('--audit-log <file>', 'append the query, the decryption and the release to this JSON-lines file')
    .option('--explain', 'show the plan, its slot layout and the no-wrap proof, without contacting any agency')
    .option('--json', 'print the result as JSON')
    .action(action(async (sql: string, opts: {
      federation: string; key?: string; keyAuthorityKey?: string; deadline: number; requireAll?: boolean; threshold?: number;
      insecure?: boolean; auditLog?: string; explain?: boolean; json?: boolean;
    }) => {
      const json = opts.json === true;
      await using coordinator = await connectCoordinator({
        federation: opts.federation,
        ...(opts.key === undefined ? {} : { keyFile: opts.key }),
        ...(opts.keyAuthorityKey === undefined ? {} : { keyAuthorityKeyFile: opts.keyAuthorityKey }),
        ...(opts.auditLog === undefined ? {} : { audit: new JsonlAuditSink(opts.auditLog) }),
        insecure: opts.insecure === true,
      });
      if (opts.explain === true) {
        const x = coordinator.explain(sql);
        process.stdout.write(json ? `${toJson(x)}\n` : `${renderExplanation(x)}\n`);
        return;
      }
      const bar = progressBar('query', { json });
      const result = await coordinator.query(sql, {
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
    }));
}
