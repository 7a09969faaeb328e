/**
 * A fitted model's table as plain text in the layout of R's `summary(glm())`, with what R leaves
 * implicit said out loud: the reference level of every contrast-coded category column, the ridge
 * penalty, the rounds and whether they converged. Columns line up in a terminal with Chinese
 * labels (wide characters count two cells).
 */
import type { CoefficientRow, GlmTable } from './inference.js';
import { displayWidth } from '../util/display-width.js';

function padEnd(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

function padStart(s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - displayWidth(s))) + s;
}

/** Decimals that show `x` to `digits` significant digits. */
function decimalsFor(x: number, digits: number): number {
  if (x === 0 || !Number.isFinite(x)) return 0;
  return Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(x))));
}

/** A column of numbers with one number of decimals, enough for 4 significant digits in each (as R's `format`). */
function formatColumn(xs: readonly number[]): string[] {
  const decimals = Math.max(...xs.map((x) => decimalsFor(x, 4)));
  const big = xs.some((x) => Math.abs(x) >= 1e15);
  if (decimals > 10 || big) return xs.map((x) => x.toExponential(3).replace(/e([+-])(\d)$/, 'e$10$2'));
  return xs.map((x) => x.toFixed(decimals));
}

/** R's `format.pval` with 3 digits and ε = 2e-16. */
export function formatP(p: number): string {
  if (p < 2e-16) return '< 2e-16';
  if (p < 1e-4) return p.toExponential(2).replace(/e([+-])(\d)$/, 'e$10$2');
  return Number(p.toPrecision(3)).toString();
}

/** R's significance stars. */
export function stars(p: number): string {
  return p < 0.001 ? '***' : p < 0.01 ? '**' : p < 0.05 ? '*' : p < 0.1 ? '.' : ' ';
}

function formatNumber(x: number): string {
  return Number(x.toPrecision(5)).toString();
}

function coefficientLines(table: GlmTable): string[] {
  const rows: readonly CoefficientRow[] = table.terms;
  const est = formatColumn(rows.map((r) => r.estimate));
  const se = formatColumn(rows.map((r) => r.stderr));
  const z = rows.map((r) => r.z.toFixed(3));
  const p = rows.map((r) => formatP(r.p));
  const header = ['', 'Estimate', 'Std. Error', `${table.statistic} value`, `Pr(>|${table.statistic}|)`];
  const cells = rows.map((r, i) => [r.term, est[i] ?? '', se[i] ?? '', z[i] ?? '', p[i] ?? '']);
  const widths = header.map((h, c) => Math.max(displayWidth(h), ...cells.map((row) => displayWidth(row[c] ?? ''))));
  const line = (row: readonly string[], tail: string): string =>
    row.map((s, c) => (c === 0 ? padEnd(s, widths[0] ?? 0) : padStart(s, widths[c] ?? 0))).join(' ') +
    (tail === '' ? '' : ` ${tail}`);
  return [line(header, '   '), ...cells.map((row, i) => line(row, stars(rows[i]?.p ?? 1).padEnd(3)).trimEnd())];
}

/** The summary text (lines joined by \n, ending in \n). */
export function formatSummary(table: GlmTable): string {
  const refs = Object.entries(table.referenceLevels).map(([c, v]) => `${c} = ${v}`);
  const lines = [
    `Formula: ${table.formula}`,
    `Family: ${table.family} (link: ${table.link})`,
    ...(refs.length > 0 ? [`Reference levels: ${refs.join(', ')}`] : []),
    '',
    'Coefficients:',
    ...coefficientLines(table),
    '---',
    "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1",
    '',
    `(Dispersion parameter for ${table.family} family ${table.family === 'gaussian' ? `estimated at ${formatNumber(table.dispersion)}` : 'taken to be 1'})`,
    '',
    `    Null deviance: ${table.nullDeviance.toFixed(2)}  on ${table.dfNull} degrees of freedom`,
    `Residual deviance: ${table.deviance.toFixed(2)}  on ${table.dfResidual} degrees of freedom`,
    `AIC: ${formatNumber(table.aic)}`,
    ...(table.ridge > 0
      ? [`Ridge penalty: λ = ${table.ridge} on the internal scale (standard errors from the sandwich A⁻¹·I·A⁻¹)`]
      : []),
    '',
    `Number of rounds: ${table.iterations}${table.converged ? '' : ' (did not converge)'}`,
    ...table.warnings.map((w) => `Warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}
