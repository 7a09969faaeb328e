import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { Schema } from '../../src/federation/schema.js';
import { generateScenario } from '../../src/seed/generate.js';
import { loadScenario } from '../../src/seed/scenario-registry.js';
import type { LoadedScenario } from '../../src/seed/scenario-registry.js';
import type { ScenarioManifest } from '../../src/seed/generate.js';
import { isValidGb11643 } from '../../src/util/gb11643.js';
import { parseCsvObjects } from './csv-parse.js';

const ROWS = 20_000;
/**
 * Registrations per city at ROWS, by hand from scenario.json's migrantShare (成都 100, 绵阳 18,
 * 德阳 12): 20000, round(20000 × 18/100), round(20000 × 12/100).
 */
const PER_CITY = { cd: 20_000, my: 3_600, dy: 2_400 } as const;
/** Reference count of a city's persons from its share (floating point is exact at these sizes). */
const personsAt = (rows: number, share: number, maxShare: number): number =>
  Math.max(1, Math.round((rows * share) / maxShare));
/** arrival_month of the reference date's month (2025-12 counted from 2001-01). */
const LAST_MONTH = 299;
let root = '';
let big = '';
let manifest: ScenarioManifest;
let loaded: LoadedScenario;
let schema: Schema;
/** agency id → parsed rows of its one dataset. */
const data = new Map<string, { dataset: string; header: string[]; rows: Record<string, string>[] }>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fedstat-seed-'));
  big = join(root, 'big');
  manifest = await generateScenario({ scenario: 'sichuan', outDir: big, rows: ROWS, seed: 'test' });
  loaded = await loadScenario('sichuan');
  // The domain checks read the shipped schema file itself, not the generator's copy.
  schema = parseSchema(
    JSON.parse(await readFile(join(loaded.dir, 'schema.json'), 'utf8')),
    'seeds/sichuan/schema.json',
  );
  for (const a of manifest.agencies) {
    const [dataset, info] = Object.entries(a.datasets)[0]!;
    data.set(a.id, { dataset, ...parseCsvObjects(await readFile(join(big, info.file), 'utf8')) });
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const get = (id: string) => data.get(id)!;
const cityIds = ['cd', 'my', 'dy'] as const;
const ageFromId = (id: string, ref: string): number => {
  const [ry, rm_, rd] = ref.split('-').map(Number) as [number, number, number];
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  return ry - y - (rm_ < m || (rm_ === m && rd < d) ? 1 : 0);
};

describe('generateScenario output', () => {
  it('writes the schema, a manifest equal to the returned one, and one CSV per agency dataset', async () => {
    const files = (await readdir(big)).sort();
    expect(files).toEqual(
      ['manifest.json', 'schema.json', ...manifest.agencies.map((a) => Object.values(a.datasets)[0]!.file)].sort(),
    );
    expect(JSON.parse(await readFile(join(big, 'manifest.json'), 'utf8'))).toEqual(manifest);
    expect(await readFile(join(big, 'schema.json'), 'utf8')).toBe(loaded.schemaText);
    expect(manifest).toMatchObject({
      scenario: 'sichuan',
      seed: 'test',
      rows: ROWS,
      schemaFile: 'schema.json',
      referenceDate: '2025-12-31',
    });
    expect(manifest.agencies).toHaveLength(12);
    expect(manifest.agencies[0]).toMatchObject({
      id: 'cd-psb',
      name: '成都市公安局',
      city: '成都市',
      department: 'public-security',
      datasets: { residence_registrations: { file: 'cd-psb.residence_registrations.csv', rows: ROWS } },
    });
    for (const a of manifest.agencies) expect(Object.values(a.datasets)[0]!.rows, a.id).toBe(get(a.id).rows.length);
    // rows is the largest city's registrations; the others scale with their migrantShare.
    for (const c of cityIds) expect(get(`${c}-psb`).rows.length, c).toBe(PER_CITY[c]);
    const shares = loaded.scenario.cities.map((c) => c.migrantShare);
    expect(loaded.scenario.cities.map((c) => personsAt(ROWS, c.migrantShare, Math.max(...shares)))).toEqual(
      cityIds.map((c) => PER_CITY[c]),
    );
    expect(Object.isFrozen(manifest.agencies[0]!.datasets)).toBe(true);
  });

  it('every value lies inside the domain seeds/sichuan/schema.json declares', () => {
    for (const [id, { dataset, header, rows }] of data) {
      const ds = schema.datasets[dataset]!;
      expect(header, id).toEqual(Object.keys(ds.columns));
      const bad: string[] = [];
      for (const row of rows) {
        for (const [col, c] of Object.entries(ds.columns)) {
          const v = row[col]!;
          const ok =
            c.type === 'category'
              ? c.values.includes(v)
              : c.type === 'integer'
                ? /^-?\d+$/.test(v) && Number(v) >= c.min && Number(v) <= c.max
                : c.format === 'gb11643'
                  ? isValidGb11643(v)
                  : v.length > 0;
          if (!ok) bad.push(`${id} ${col}=${v}`);
        }
      }
      expect(bad.slice(0, 5), id).toEqual([]);
    }
  });

  it('citizen IDs are valid, unique across the province, and agree with age, sex and origin', () => {
    const provinceCode = new Map(loaded.scenario.origins.map((o) => [o.province, o]));
    const all = new Set<string>();
    let n = 0;
    const bad: string[] = [];
    for (const c of cityIds) {
      for (const r of get(`${c}-psb`).rows) {
        n++;
        all.add(r['citizen_id']!);
        const id = r['citizen_id']!;
        const origin = provinceCode.get(r['origin_province']!)!;
        const age = Number(r['age']);
        if (!isValidGb11643(id)) bad.push(`invalid ${id}`);
        if (ageFromId(id, manifest.referenceDate) !== age) bad.push(`age ${id} ${age}`);
        if ((Number(id.slice(14, 17)) % 2 === 1 ? '男' : '女') !== r['sex']) bad.push(`sex ${id} ${r['sex']}`);
        if (!origin.regions.includes(id.slice(0, 6))) bad.push(`origin ${id} ${r['origin_province']}`);
        if (Number(r['months_resident']) > age * 12 + 11) bad.push(`months ${id}`);
        if (Number(r['months_resident']) + Number(r['arrival_month']) !== LAST_MONTH) bad.push(`arrival ${id}`);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(all.size).toBe(n);
    expect(n).toBe(PER_CITY.cd + PER_CITY.my + PER_CITY.dy);
  });

  it("the other agencies hold subsets of the same city's registrations, with consistent attributes", () => {
    const si = loaded.scenario.socialInsurance;
    for (const c of cityIds) {
      const persons = new Map(get(`${c}-psb`).rows.map((r) => [r['citizen_id']!, r]));
      const bad: string[] = [];
      const same = (dept: string, r: Record<string, string>, cols: string[]) => {
        const p = persons.get(r['citizen_id']!);
        if (p === undefined) return bad.push(`${c}-${dept}: ${r['citizen_id']} not registered in this city`);
        for (const col of cols) if (p[col] !== r[col]) bad.push(`${c}-${dept}: ${col} ${r[col]} vs ${p[col]}`);
        return 0;
      };
      const hrss = get(`${c}-hrss`).rows;
      for (const r of hrss) {
        same('hrss', r, ['city', 'district', 'sex', 'age', 'months_resident', 'sector']);
        // Contributions fit in the working life (from minAge), whether insured now or not.
        const working = (Number(r['age']) - loaded.scenario.employment.minAge) * 12 + 12;
        if (Number(r['contribution_months']) > Math.min(working, si.maxContributionMonths))
          bad.push(`contribution ${r['citizen_id']}`);
      }
      // Everyone employed is known to HR/social security, insured or not.
      const workers = [...persons.values()].filter(
        (p) => p['sector'] !== loaded.scenario.employment.notEmployed,
      ).length;
      expect(hrss.length).toBe(workers);
      expect(new Set(hrss.map((r) => r['citizen_id'])).size).toBe(hrss.length);
      for (const r of get(`${c}-housing`).rows) {
        same('housing', r, ['city', 'district']);
        if (Number(persons.get(r['citizen_id']!)?.['age']) < loaded.scenario.rental.minAge)
          bad.push(`minor renter ${r['citizen_id']}`);
      }
      for (const r of get(`${c}-edu`).rows) {
        same('edu', r, ['city', 'district', 'sex', 'age']);
        if (Number(r['grade']) !== Number(r['age']) - 5) bad.push(`grade ${r['citizen_id']}`);
      }
      expect(bad.slice(0, 5), c).toEqual([]);
    }
  });

  it('distributions follow the scenario within sampling tolerance (20k registrations in 成都, 26k in all)', () => {
    const s = loaded.scenario;
    const psb = cityIds.flatMap((c) => get(`${c}-psb`).rows);
    const hrss = cityIds.flatMap((c) => get(`${c}-hrss`).rows);
    const share = <T>(rows: T[], pred: (r: T) => boolean) => rows.filter(pred).length / rows.length;
    /** Four binomial standard errors: cities now differ in size, so fixed tolerances would not fit all. */
    const tol = (p: number, n: number) => 4 * Math.sqrt((p * (1 - p)) / n);

    // Every sector is well represented (the insured rates are checked against their model in ground-truth.test.ts).
    for (const sector of s.sectors)
      expect(hrss.filter((r) => r['sector'] === sector.name).length, sector.name).toBeGreaterThan(800);
    // Origin provinces, sex, age buckets.
    const originTotal = s.origins.reduce((a, o) => a + o.weight, 0);
    for (const o of s.origins) {
      const p = o.weight / originTotal;
      expect(Math.abs(share(psb, (r) => r['origin_province'] === o.province) - p), o.province).toBeLessThan(
        tol(p, psb.length),
      );
    }
    expect(Math.abs(share(psb, (r) => r['sex'] === '男') - 0.54)).toBeLessThan(tol(0.54, psb.length));
    // Ages follow the buckets given that the person was born by the arrival month: with arrival
    // months ∝ e^(γ·month), P(months_resident ≤ k) = (1 − e^(−γ(k+1))) / (1 − e^(−γT)) for T months.
    const { trendPerMonth: g, months: T } = s.groundTruth.arrivals;
    const livedAtMost = (k: number) => (k >= T - 1 ? 1 : (1 - Math.exp(-g * (k + 1))) / (1 - Math.exp(-g * T)));
    const ageWeight = (a: number) => {
      const b = s.age.find((x) => a >= x.min && a <= x.max)!;
      return (b.weight / (b.max - b.min + 1)) * livedAtMost(12 * a + 11);
    };
    const ages = Array.from({ length: 121 }, (_, a) =>
      s.age.some((x) => a >= x.min && a <= x.max) ? ageWeight(a) : 0,
    );
    const ageTotal = ages.reduce((a, b) => a + b, 0);
    for (const b of s.age) {
      const p = ages.slice(b.min, b.max + 1).reduce((x, y) => x + y, 0) / ageTotal;
      expect(
        Math.abs(share(psb, (r) => Number(r['age']) >= b.min && Number(r['age']) <= b.max) - p),
        `${b.min}-${b.max}`,
      ).toBeLessThan(tol(p, psb.length));
    }
    // Young children are fewer than their bucket weight says (born after many arrival months).
    expect(share(psb, (r) => Number(r['age']) <= 5)).toBeLessThan(0.04);
    // Districts within each city.
    for (const [i, c] of cityIds.entries()) {
      const city = s.cities[i]!;
      const total = city.districts.reduce((a, d) => a + d.weight, 0);
      const rows = get(`${c}-psb`).rows;
      for (const d of city.districts)
        expect(Math.abs(share(rows, (r) => r['district'] === d.name) - d.weight / total), d.name).toBeLessThan(
          tol(d.weight / total, rows.length),
        );
    }
    // Median income per sector in Chengdu: the sector median times the city's income index.
    for (const sector of s.sectors) {
      const incomes = get('cd-hrss')
        .rows.filter((r) => r['sector'] === sector.name)
        .map((r) => Number(r['monthly_income']))
        .sort((a, b) => a - b);
      const median = incomes[Math.floor(incomes.length / 2)]!;
      expect(
        Math.abs(median / ((sector.income.median * s.cities[0]!.incomeIndex) / 100) - 1),
        sector.name,
      ).toBeLessThan(0.08);
    }
    // School-age children are enrolled at the declared rate.
    const schoolAge = psb.filter(
      (r) => Number(r['age']) >= s.school.minAge && Number(r['age']) <= s.school.maxAge,
    ).length;
    const enrolled = cityIds.reduce((a, c) => a + get(`${c}-edu`).rows.length, 0);
    expect(Math.abs(enrolled / schoolAge - s.school.enrolledPerMille / 1000)).toBeLessThan(
      tol(s.school.enrolledPerMille / 1000, schoolAge),
    );
    // Core districts hold more IT workers than suburban ones (the zone profiles differ).
    const itShare = (zone: string) => {
      const names = new Set(s.cities[0]!.districts.filter((d) => d.zone === zone).map((d) => d.name));
      return share(
        get('cd-hrss').rows.filter((r) => names.has(r['district']!)),
        (r) => r['sector'] === '信息技术',
      );
    };
    expect(itShare('core')).toBeGreaterThan(2 * itShare('suburban'));
  });
});

describe('determinism', () => {
  const digests = async (dir: string): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const f of (await readdir(dir)).sort())
      out[f] = createHash('sha256')
        .update(await readFile(join(dir, f)))
        .digest('hex');
    return out;
  };

  it('same scenario, rows and seed give byte-identical files; another seed differs', async () => {
    const a = await generateScenario({ scenario: 'sichuan', outDir: join(root, 'a'), rows: 2000, seed: 's1' });
    const b = await generateScenario({ scenario: 'sichuan', outDir: join(root, 'b'), rows: 2000, seed: 's1' });
    await generateScenario({ scenario: 'sichuan', outDir: join(root, 'c'), rows: 2000, seed: 's2' });
    expect(b).toEqual(a);
    const [da, db, dc] = await Promise.all(['a', 'b', 'c'].map((d) => digests(join(root, d))));
    expect(db).toEqual(da);
    for (const f of Object.keys(da!)) if (f.endsWith('.csv')) expect(dc![f], f).not.toBe(da![f]);
  });

  it('a subset of agencies gets exactly its files of the full run, and fewer rows give a prefix', async () => {
    const sub = await generateScenario({
      scenario: 'sichuan',
      outDir: join(root, 'sub'),
      rows: 2000,
      seed: 's1',
      agencies: ['my-hrss', 'cd-psb', 'my-hrss'],
    });
    expect(sub.agencies.map((a) => a.id)).toEqual(['cd-psb', 'my-hrss']);
    for (const f of ['cd-psb.residence_registrations.csv', 'my-hrss.social_insurance.csv']) {
      expect(await readFile(join(root, 'sub', f)), f).toEqual(await readFile(join(root, 'a', f)));
    }
    // Each city's count only grows with rows (round(rows × share / 100) is monotone), so every
    // file of a smaller run, rounding included, is a proper prefix of the larger run's.
    const short = await generateScenario({ scenario: 'sichuan', outDir: join(root, 'short'), rows: 701, seed: 's1' });
    const long = JSON.parse(await readFile(join(root, 'a', 'manifest.json'), 'utf8')) as ScenarioManifest;
    const psbRows = (m: ScenarioManifest) =>
      m.agencies.filter((a) => a.department === 'public-security').map((a) => Object.values(a.datasets)[0]!.rows);
    expect(psbRows(short)).toEqual([701, 126, 84]); // 126.18 rounds down, 84.12 too
    expect(psbRows(long)).toEqual([2000, 360, 240]);
    for (const f of (await readdir(join(root, 'short'))).filter((x) => x.endsWith('.csv'))) {
      const prefix = await readFile(join(root, 'short', f), 'utf8');
      const whole = await readFile(join(root, 'a', f), 'utf8');
      expect(whole.startsWith(prefix) && whole.length > prefix.length, f).toBe(true);
    }
  });

  it('matches pinned digests (any machine, any Node version; update only with an intended scenario change)', async () => {
    await generateScenario({ scenario: 'sichuan', outDir: join(root, 'golden'), rows: 300, seed: 'golden' });
    const d = await digests(join(root, 'golden'));
    const combined = createHash('sha256').update(JSON.stringify(d)).digest('hex');
    expect(combined).toBe(GOLDEN);
  });

  it("reports progress up to the total: the sum of the selected cities' persons", async () => {
    const calls: [number, number][] = [];
    await generateScenario({
      scenario: 'sichuan',
      outDir: join(root, 'p'),
      rows: 100,
      agencies: ['dy-psb', 'cd-edu'],
      onProgress: (d, t) => calls.push([d, t]),
    });
    expect(calls.at(-1)).toEqual([100 + 12, 100 + 12]); // 成都 100, 德阳 round(100 × 12/100)
    expect(calls.every(([d], i) => i === 0 || d >= calls[i - 1]![0])).toBe(true);
  });
});

describe('errors', () => {
  it('unknown scenario: NOT_FOUND listing the valid ones', async () => {
    const err = await generateScenario({ scenario: 'hubei', outDir: join(root, 'x') }).catch((e: unknown) => e);
    expect(isFedstatError(err, 'NOT_FOUND')).toBe(true);
    expect((err as Error).message).toBe('unknown scenario "hubei"; valid scenarios: sichuan');
  });

  it('unknown agency: NOT_FOUND listing the valid ones', async () => {
    const err = await generateScenario({
      scenario: 'sichuan',
      outDir: join(root, 'x'),
      agencies: ['cd-psb', 'cd-police'],
    }).catch((e: unknown) => e);
    expect(isFedstatError(err, 'NOT_FOUND')).toBe(true);
    expect((err as Error).message).toMatch(
      /unknown agency "cd-police" in scenario sichuan; valid agencies: cd-psb, cd-hrss/,
    );
  });

  it('bad row counts and unwritable directories', async () => {
    await expect(generateScenario({ scenario: 'sichuan', outDir: join(root, 'x'), rows: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(generateScenario({ scenario: 'sichuan', outDir: join(root, 'x'), rows: 2.5 })).rejects.toThrow(
      RangeError,
    );
    const tooMany = await generateScenario({ scenario: 'sichuan', outDir: join(root, 'x'), rows: 50_000_001 }).catch(
      (e: unknown) => e,
    );
    expect(isFedstatError(tooMany, 'CONFIG_INVALID')).toBe(true);
    expect((tooMany as Error).message).toMatch(
      /^50000001 rows for 成都市 exceed maxRows 50000000 of dataset residence_registrations in .*schema\.json; generate at most 50000000 rows$/,
    );
    // maxRows applies to each city's own count: 绵阳 gets round(300M × 18/100) = 54M > 50M, 德阳 36M fits.
    // The fix is the largest rows for which 绵阳 stays within 50M: round(277777780 × 0.18) = 50000000,
    // round(277777781 × 0.18) = 50000001; no file is written before the check.
    const smallCity = await generateScenario({
      scenario: 'sichuan',
      outDir: join(root, 'x'),
      rows: 300_000_000,
      agencies: ['dy-psb', 'my-hrss'],
    }).catch((e: unknown) => e);
    expect(isFedstatError(smallCity, 'CONFIG_INVALID')).toBe(true);
    expect((smallCity as Error).message).toMatch(
      /^54000000 rows for 绵阳市 exceed maxRows 50000000 of dataset social_insurance in .*; generate at most 277777780 rows$/,
    );
    expect([personsAt(277_777_780, 18, 100), personsAt(277_777_781, 18, 100)]).toEqual([50_000_000, 50_000_001]);
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    const io = await generateScenario({ scenario: 'sichuan', outDir: join(file, 'sub'), rows: 10 }).catch(
      (e: unknown) => e,
    );
    expect(isFedstatError(io, 'IO')).toBe(true);
  });
});

// Re-pinned when the labels got their ground truth (groundTruth in scenario.json): every file changed, as the
// core stream now draws an arrival month and the age given it, the work stream insured by its logistic model,
// and the schema gained arrival_month and social_insurance.months_resident.
const GOLDEN = 'da2d4d39a2dc0d3701da2b5e6f995c31dd4d69cdacd077ead75d3f4487e0e506';
