/**
 * No column of the generated data gives a label away. The labels are the two-valued columns a
 * statistician would model: social_insurance.insured, rental_filings.rental_type,
 * school_enrolments.school_type, and employment in residence_registrations (sector = 未就业 or not,
 * among people of working age: children never work, a structural zero, not a leak).
 *
 * A column determines a label when one of its values, or one band of an integer column's values,
 * holds only one label value; or when a column takes a single value within one label value. With
 * every row's label probability at least p given its group, a group of n rows is pure with
 * probability at most (1 − p)^n: the smallest group rate under the scenario is about 7 % (合租
 * among the largest floor areas, where a filing has the area of a whole flat only by the scenario's
 * areaMixPerMille), and even at 5 %, 0.95^400 ≈ 1e-9: groups of MIN_GROUP = 400 rows or more are
 * not pure by chance, whatever the seed.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateScenario } from '../../src/seed/generate.js';
import { seedsDirectory } from '../../src/seed/scenario-registry.js';
import { parseCsvObjects } from './csv-parse.js';

type Row = Record<string, string>;
const MIN_GROUP = 400;
/** Integer columns are also cut into this many bands of equal counts, which catches threshold rules. */
const BANDS = 20;

const schema = JSON.parse(readFileSync(join(seedsDirectory(), 'sichuan', 'schema.json'), 'utf8')) as {
  datasets: Record<string, { columns: Record<string, { type: string }> }>;
};
let root = '';
const data = new Map<string, Row[]>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fedstat-leaks-'));
  const manifest = await generateScenario({ scenario: 'sichuan', outDir: root, rows: 50_000, seed: 'leaks' });
  for (const a of manifest.agencies) {
    for (const [dataset, f] of Object.entries(a.datasets)) {
      data.set(dataset, [
        ...(data.get(dataset) ?? []),
        ...parseCsvObjects(await readFile(join(root, f.file), 'utf8')).rows,
      ]);
    }
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Where each group of at least MIN_GROUP rows is pure, and which columns are constant within a label value. */
function leaks(
  rows: readonly Row[],
  dataset: string,
  label: string,
  event: (r: Row) => boolean,
  exclude: readonly string[] = [],
): string[] {
  const found: string[] = [];
  const columns = Object.entries(schema.datasets[dataset]!.columns).filter(
    ([c, col]) => c !== label && col.type !== 'id' && !exclude.includes(c),
  );
  const pure = (what: string, group: readonly Row[]) => {
    if (group.length < MIN_GROUP) return;
    const events = group.filter(event).length;
    if (events === 0 || events === group.length) found.push(`${what}: ${events} of ${group.length} rows`);
  };
  for (const [c, col] of columns) {
    const byValue = new Map<string, Row[]>();
    for (const r of rows) {
      const group = byValue.get(r[c]!);
      if (group === undefined) byValue.set(r[c]!, [r]);
      else group.push(r);
    }
    for (const [v, group] of byValue) pure(`${c} = ${v}`, group);
    if (col.type === 'integer') {
      const sorted = [...rows].sort((a, b) => Number(a[c]) - Number(b[c]));
      for (let k = 0; k < BANDS; k++) {
        const band = sorted.slice(
          Math.floor((k * sorted.length) / BANDS),
          Math.floor(((k + 1) * sorted.length) / BANDS),
        );
        pure(`${c} in [${band[0]?.[c]}, ${band.at(-1)?.[c]}]`, band);
      }
    }
    for (const value of [true, false]) {
      const within = new Set(rows.filter((r) => event(r) === value).map((r) => r[c]));
      if (within.size === 1) found.push(`${c} is always ${[...within][0]} when the label is ${value}`);
    }
  }
  return found;
}

describe('no column gives a label away', () => {
  it('insured (social_insurance), including contribution_months', () => {
    const rows = data.get('social_insurance')!;
    expect(rows.length).toBeGreaterThan(40_000);
    expect(leaks(rows, 'social_insurance', 'insured', (r) => r['insured'] === '是')).toEqual([]);
  });

  it('rental_type (rental_filings): floor area and rent overlap between the types', () => {
    const rows = data.get('rental_filings')!;
    expect(rows.length).toBeGreaterThan(20_000);
    expect(leaks(rows, 'rental_filings', 'rental_type', (r) => r['rental_type'] === '合租')).toEqual([]);
  });

  it('school_type (school_enrolments)', () => {
    const rows = data.get('school_enrolments')!;
    expect(rows.length).toBeGreaterThan(3_000);
    expect(leaks(rows, 'school_enrolments', 'school_type', (r) => r['school_type'] === '民办')).toEqual([]);
  });

  it('employment (residence_registrations, working age)', () => {
    const rows = data.get('residence_registrations')!.filter((r) => Number(r['age']) >= 16);
    // sector is the label itself here (未就业 or a sector).
    expect(leaks(rows, 'residence_registrations', 'sector', (r) => r['sector'] !== '未就业')).toEqual([]);
  });

  it('the check finds the leaks it is meant to find', () => {
    const rows = data.get('social_insurance')!;
    // The old rule: contribution months exactly when insured.
    const old: Row[] = rows.map((r) => ({ ...r, contribution_months: r['insured'] === '是' ? '12' : '0' }));
    expect(leaks(old, 'social_insurance', 'insured', (r) => r['insured'] === '是')).toEqual(
      expect.arrayContaining([
        'contribution_months = 0: 0 of ' + String(old.filter((r) => r['insured'] === '否').length) + ' rows',
      ]),
    );
    // A threshold rule on an integer column: every filing above the median area let whole.
    const filings = data.get('rental_filings')!;
    const median = [...filings].map((r) => Number(r['floor_area'])).sort((a, b) => a - b)[filings.length >> 1]!;
    const split: Row[] = filings.map((r) => ({
      ...r,
      rental_type: Number(r['floor_area']) > median ? '整租' : r['rental_type']!,
    }));
    expect(
      leaks(split, 'rental_filings', 'rental_type', (r) => r['rental_type'] === '合租').some((l) =>
        l.startsWith('floor_area in'),
      ),
    ).toBe(true);
  });
});
