/**
 * How `fedstat demo` prints its linked-records section (src/demo/linkage-showcase.ts): each query
 * with its linkage sizes and its check against the plaintext join, a DP release next to the exact
 * values with its 95 % interval per row, and the budgets the agencies of both sides charged.
 */
import type { LinkageShowcase, LinkedQuery } from '../../demo/linkage-showcase.js';
import type { ResultRow } from '../../coordinator/release.js';
import { formatInteger, formatMs, formatNumber, renderTable } from '../table.js';
import { queryJson, renderResult } from './query.js';

type Write = (text: string) => boolean;

/** The section's `--json` form: per query the usual query JSON, the exact rows and the check. */
export function linkageJson(s: LinkageShowcase | { skipped: string }): object {
  if ('skipped' in s) return s;
  const query = (q: LinkedQuery): object => ({
    title: q.title,
    sql: q.sql,
    check: checkPassed(q) ? 'ok' : (q.mismatch ?? `outside the tail bound: ${q.outOfBound.join(', ')}`),
    maxRowsPerId: q.maxRowsPerId,
    ms: q.ms,
    ...(queryJson(q.result) as object),
    exact: q.exact,
    countBound: q.countBound,
    covered: q.covered,
    aggregates: q.aggregates,
  });
  return { rho: s.rho, antiJoin: query(s.antiJoin), innerJoin: query(s.innerJoin), budgets: s.budgets };
}

const checkPassed = (q: LinkedQuery): boolean => q.mismatch === null && q.outOfBound.length === 0;

/** Prints the section as number `n` of the demo. */
export function printLinkage(s: LinkageShowcase | { skipped: string }, n: number, w: Write): void {
  w(`\n━━ ${n}. 跨部门数据关联（人-房-事-证）：按公民身份号码关联，号码不出部门`);
  w(
    '   Linked records: departments join their records on citizen ids by private set intersection (ECDH over Curve25519, keys fresh for every query);',
  );
  w("   the other side's values travel only under BFV, and the joined totals are released like any query's.");
  if ('skipped' in s) {
    w(`   skipped: ${s.skipped}`);
    return;
  }
  for (const q of [s.antiJoin, s.innerJoin]) printQuery(q, w);
  w('\nprivacy budget of the joined datasets, as each agency reports it from its own ledger (fedstat budget):');
  w(
    renderTable(
      ['agency', 'dataset', 'spent', 'remaining'],
      s.budgets.map((b) => [b.agency, b.dataset, b.spent, b.remaining]),
      ['left', 'left', 'right', 'right'],
    ),
  );
}

function printQuery(q: LinkedQuery, w: Write): void {
  const r = q.result;
  w(`\n${q.title}`);
  w(`${q.sql}   (${r.privacy === null ? 'exact' : `--rho ${r.privacy.rho}`}, maxRowsPerId ${q.maxRowsPerId})`);
  if (r.privacy === null) {
    // renderResult already names the linked agencies and the query's time.
    w(renderResult(r));
    w(
      q.mismatch === null
        ? `check: ✓ identical to the plaintext join of the seed files (${r.rows.length} rows, ${r.suppressed} withheld)`
        : `check: ✗ MISMATCH with the plaintext join: ${q.mismatch}`,
    );
    return;
  }
  w(linkageLine(q));
  w('released with distributed DP, next to the exact values (demo only: the plaintext join of the seed files):');
  w(noisyTable(q));
  w(
    `${q.covered} of ${q.aggregates} intervals hold the exact value (95 % intervals: about 1 in 20 may miss); ${
      q.outOfBound.length === 0
        ? `✓ every count within the noise's 2^-100 tail bound (±${formatInteger(q.countBound ?? 0n)}) of the plaintext join`
        : `✗ outside the tail bound: ${q.outOfBound.join(', ')}`
    }${r.suppressed > 0 ? `; ${r.suppressed} groups withheld (noisy count below ${r.suppression.minGroupSize})` : ''}`,
  );
}

/** Who was linked and how much moved: ids per side, positions drawn, ciphertext bytes, wall time. */
function linkageLine(q: LinkedQuery): string {
  const l = q.result.linkage;
  if (l === undefined) return `ran in ${formatMs(q.ms)}`;
  const side = (name: 'left' | 'right'): string => {
    const s = l.sides[name];
    const ids = Object.values(s.elements).reduce((a, b) => a + b, 0);
    return `${formatInteger(ids)} ids of ${s.dataset} from ${s.linked.length} agencies`;
  };
  const mib = (l.bytes.encrypted / 2 ** 20).toFixed(1);
  return `linkage: ${side('left')} and ${side('right')}; ${formatInteger(l.positions)} positions, ${mib} MiB of ciphertext from the encrypting side; query ${formatMs(q.ms)}`;
}

function noisyTable(q: LinkedQuery): string {
  const r = q.result;
  const groups = r.columns.filter((c) => c.kind === 'group').map((c) => c.name);
  const keyOf = (row: ResultRow): string => JSON.stringify(groups.map((g) => row[g]));
  const exact = new Map(q.exact.map((row) => [keyOf(row), row]));
  const headers: string[] = [];
  const align: ('left' | 'right')[] = [];
  for (const c of r.columns) {
    if (c.kind === 'group') {
      headers.push(c.name);
      align.push('left');
    } else {
      headers.push(c.name, '95% CI', 'exact');
      align.push('right', 'right', 'right');
    }
  }
  const rows = r.rows.map((row, i) => {
    const e = exact.get(keyOf(row));
    return r.columns.flatMap((c) => {
      if (c.kind === 'group') return [String(row[c.name])];
      const ci = r.uncertainty?.[i]?.[c.name]?.ci95;
      const truth = e?.[c.name] ?? (c.kind === 'avg' ? null : 0n);
      return [
        formatNumber(row[c.name] ?? ''),
        ci === undefined ? '' : `${formatNumber(ci[0])} – ${formatNumber(ci[1])}`,
        truth === null ? '' : formatNumber(truth),
      ];
    });
  });
  return renderTable(headers, rows, align);
}
