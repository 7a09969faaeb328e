import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import { bindToSchema, datasetSource } from '../../src/seed/datasets.js';
import { parseScenario } from '../../src/seed/scenario.js';
import {
  checkReferenceLevels,
  listScenarios,
  loadScenario,
  scenarioAgencies,
  seedsDirectory,
} from '../../src/seed/scenario-registry.js';

const dir = join(seedsDirectory(), 'sichuan');
const rawScenario = (): Record<string, unknown> =>
  JSON.parse(readFileSync(join(dir, 'scenario.json'), 'utf8')) as Record<string, unknown>;
const rawSchema = (): { datasets: Record<string, { columns: Record<string, Record<string, unknown>> }> } =>
  JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8')) as never;

type Effects = Record<string, Record<string, number>>;
const insured = (r: Record<string, unknown>): Effects => (r['groundTruth'] as { insured: Effects }).insured;
const arrivals = (
  r: Record<string, unknown>,
): { districtEffects: Record<string, number>; firstMonth?: unknown; trendPerMonth?: unknown } =>
  (r['groundTruth'] as { arrivals: { districtEffects: Record<string, number> } }).arrivals;

function configErrorOf(f: () => unknown): Error & { details: Record<string, unknown> } {
  try {
    f();
  } catch (e) {
    expect(isFedstatError(e, 'CONFIG_INVALID')).toBe(true);
    return e as never;
  }
  throw new Error('expected a CONFIG_INVALID error');
}

describe('shipped scenarios', () => {
  it('lists sichuan', () => {
    expect(listScenarios()).toContain('sichuan');
  });

  it('seeds/sichuan/schema.json is a valid fedstat schema with the datasets the demo needs', () => {
    const schema = parseSchema(rawSchema(), 'schema.json');
    expect(Object.keys(schema.datasets)).toEqual([
      'residence_registrations',
      'social_insurance',
      'rental_filings',
      'school_enrolments',
    ]);
    for (const [name, ds] of Object.entries(schema.datasets)) {
      expect(ds.maxRows, name).toBe(50_000_000);
      expect(ds.columns['citizen_id']).toEqual({ type: 'id', format: 'gb11643' });
      expect(ds.columns['district']?.type).toBe('category');
      for (const [col, c] of Object.entries(ds.columns)) {
        expect(col).toMatch(/^[a-z][a-z0-9_]*$/);
        if (c.type === 'integer') expect(c.min).toBeLessThanOrEqual(c.max);
      }
    }
    const si = schema.datasets['social_insurance']!.columns;
    expect(si['insured']).toEqual({ type: 'category', values: ['是', '否'] });
    expect(si['monthly_income']?.type).toBe('integer');
    // The insured model's covariates are all in social_insurance; arrivals have their month.
    for (const col of ['age', 'sex', 'sector', 'district', 'monthly_income', 'months_resident'])
      expect(si[col], col).toBeDefined();
    expect(schema.datasets['residence_registrations']!.columns['arrival_month']).toEqual({
      type: 'integer',
      min: 0,
      max: 299,
    });
  });

  it('loads sichuan: 3 cities, 4 departments, 12 agencies with stable ids and Chinese names', async () => {
    const { scenario, schema } = await loadScenario('sichuan');
    expect(scenario.province.name).toBe('四川省');
    expect(scenario.cities.map((c) => c.name)).toEqual(['成都市', '绵阳市', '德阳市']);
    // 成都 receives by far the most migrants: it has the largest share, so `rows` counts its persons.
    expect(scenario.cities.map((c) => c.migrantShare)).toEqual([100, 18, 12]);
    expect(scenario.cities[0]!.districts.map((d) => d.name)).toEqual(
      expect.arrayContaining([
        '锦江区',
        '青羊区',
        '金牛区',
        '武侯区',
        '成华区',
        '龙泉驿区',
        '新都区',
        '温江区',
        '双流区',
        '郫都区',
      ]),
    );
    const agencies = scenarioAgencies(scenario);
    expect(agencies.map((a) => a.id)).toEqual([
      'cd-psb',
      'cd-hrss',
      'cd-housing',
      'cd-edu',
      'my-psb',
      'my-hrss',
      'my-housing',
      'my-edu',
      'dy-psb',
      'dy-hrss',
      'dy-housing',
      'dy-edu',
    ]);
    expect(agencies.find((a) => a.id === 'dy-housing')?.name).toBe('德阳市住房和城乡建设局');
    // Every district of the scenario is a value of the schema's district column.
    const districts = schema.datasets['residence_registrations']!.columns['district'];
    expect(
      districts?.type === 'category' &&
        scenario.cities.flatMap((c) => c.districts.map((d) => d.name)).every((d) => districts.values.includes(d)),
    ).toBe(true);
  });

  it('unknown scenario: NOT_FOUND listing the valid ones', async () => {
    const err = await loadScenario('atlantis').catch((e: unknown) => e);
    expect(isFedstatError(err, 'NOT_FOUND')).toBe(true);
    expect((err as Error).message).toMatch(/unknown scenario "atlantis"; valid scenarios: .*sichuan/);
    const traversal = await loadScenario('../sichuan').catch((e: unknown) => e);
    expect(isFedstatError(traversal, 'NOT_FOUND')).toBe(true);
  });
});

describe('parseScenario', () => {
  it('accepts the shipped file and freezes it', () => {
    const s = parseScenario(rawScenario(), 'scenario.json');
    expect(Object.isFrozen(s) && Object.isFrozen(s.cities[0])).toBe(true);
    expect(s.sectors.map((x) => x.name)).toContain('信息技术');
  });

  it('names the file and JSON path of each mistake', () => {
    const cases: [string, (r: Record<string, unknown>) => void, RegExp][] = [
      [
        'unknown sector',
        (r) => {
          (r['zones'] as never as Record<string, { sectorWeights: Record<string, number> }>)['core']!.sectorWeights[
            '渔业'
          ] = 3;
        },
        /zones\.core\.sectorWeights\["渔业"\]: unknown sector/,
      ],
      [
        'region outside province',
        (r) => {
          (r['origins'] as { regions: string[] }[])[1]!.regions.push('110105');
        },
        /origins\[1\]\.regions\[\d+\]: region 110105 is not in province 500000/,
      ],
      [
        'zero weights',
        (r) => {
          for (const b of r['age'] as { weight: number }[]) b.weight = 0;
        },
        /^scenario\.json: age: all weights are zero/,
      ],
      [
        'bad date',
        (r) => {
          r['referenceDate'] = '2025-02-30';
        },
        /referenceDate: not a calendar date/,
      ],
      [
        'bad rate',
        (r) => {
          (r['socialInsurance'] as Record<string, number>)['lapsedPerMille'] = 1001;
        },
        /socialInsurance\.lapsedPerMille: expected an integer in \[0, 1000\]/,
      ],
      [
        'missing ground truth',
        (r) => {
          delete r['groundTruth'];
        },
        /scenario\.json: groundTruth: expected an object, got nothing/,
      ],
      [
        'unknown level',
        (r) => {
          insured(r)['sector']!['渔业'] = 1;
        },
        /groundTruth\.insured\.sector\["渔业"\]: unknown sector "渔业"; use one of: 制造业, 建筑业/,
      ],
      [
        'missing level',
        (r) => {
          delete insured(r)['district']!['绵竹市'];
        },
        /groundTruth\.insured\.district\["绵竹市"\]: expected a number in \[-20, 20\], got undefined/,
      ],
      [
        'reference not 0',
        (r) => {
          insured(r)['sex']!['男'] = 0.1;
        },
        /groundTruth\.insured\.sex\["男"\]: the reference sex \(the first\) must have coefficient 0/,
      ],
      [
        'coefficient out of range',
        (r) => {
          (r['groundTruth'] as { insured: Record<string, unknown> }).insured['monthly_income'] = 0.5;
        },
        /groundTruth\.insured\.monthly_income: expected a number in \[-0\.01, 0\.01\]/,
      ],
      [
        'district effect off its weights',
        (r) => {
          arrivals(r)['districtEffects']['武侯区'] = 0.5;
        },
        /groundTruth\.arrivals\.districtEffects\["武侯区"\]: does not match the district weights: .* is 0\.4055; write 0\.4055, or change the weights/,
      ],
      [
        'window longer than lives',
        (r) => {
          arrivals(r)['firstMonth'] = '1930-01';
          arrivals(r)['trendPerMonth'] = 0.01;
        },
        /groundTruth\.arrivals\.firstMonth: the window of 1152 months is longer than the oldest age, 80, allows/,
      ],
      [
        'bad month',
        (r) => {
          arrivals(r)['firstMonth'] = '2001-13';
        },
        /groundTruth\.arrivals\.firstMonth: not a calendar month/,
      ],
      [
        'steep trend',
        (r) => {
          arrivals(r)['trendPerMonth'] = 0.05;
        },
        /groundTruth\.arrivals\.trendPerMonth: changes the arrival rate by e\^15\.0 over the window; keep/,
      ],
      [
        'duplicate district',
        (r) => {
          const ds = (r['cities'] as { districts: unknown[] }[])[1]!.districts;
          ds.push(ds[0]);
        },
        /cities\[1\]\.districts\[5\]: duplicate district "涪城区"/,
      ],
      [
        'missing field',
        (r) => {
          delete r['school'];
        },
        /scenario\.json: school: expected an object, got nothing; write the missing section/,
      ],
      [
        'zero share',
        (r) => {
          (r['cities'] as { migrantShare: number }[])[2]!.migrantShare = 0;
        },
        /^scenario\.json: cities\[2\]\.migrantShare: expected an integer in \[1, 1000000\], got 0; use an integer/,
      ],
      [
        'fractional share',
        (r) => {
          (r['cities'] as { migrantShare: number }[])[1]!.migrantShare = 17.5;
        },
        /cities\[1\]\.migrantShare: expected an integer in \[1, 1000000\], got 17\.5/,
      ],
      [
        'missing share',
        (r) => {
          delete (r['cities'] as { migrantShare?: number }[])[0]!.migrantShare;
        },
        /cities\[0\]\.migrantShare: expected an integer in \[1, 1000000\], got undefined/,
      ],
    ];
    for (const [what, mutate, message] of cases) {
      const raw = rawScenario();
      mutate(raw);
      expect(configErrorOf(() => parseScenario(raw, 'scenario.json')).message, what).toMatch(message);
    }
  });
});

describe('scenario against schema', () => {
  it('rejects a schema that cannot hold every value the scenario produces', async () => {
    const { scenario } = await loadScenario('sichuan');
    const city = scenario.cities[0]!;
    const check = (
      mutate: (s: ReturnType<typeof rawSchema>) => void,
      dataset: string,
      kind: Parameters<typeof datasetSource>[0],
    ) => {
      const raw = rawSchema();
      mutate(raw);
      const ds = parseSchema(raw, 'schema.json').datasets[dataset]!;
      return configErrorOf(() => bindToSchema(datasetSource(kind, scenario, city), dataset, ds, 'schema.json'));
    };
    const missingDistrict = check(
      (s) => {
        (s.datasets['residence_registrations']!.columns['district']!['values'] as string[]).splice(0, 1);
      },
      'residence_registrations',
      'public-security',
    );
    expect(missingDistrict.message).toMatch(/column district: values 锦江区 are not in the schema/);
    const narrow = check(
      (s) => {
        s.datasets['social_insurance']!.columns['monthly_income']!['max'] = 50_000;
      },
      'social_insurance',
      'human-resources-social-security',
    );
    expect(narrow.message).toMatch(
      /monthly_income: the scenario produces \[1000, 200000\], outside the schema bounds \[0, 50000\]/,
    );
    const unknown = check(
      (s) => {
        s.datasets['rental_filings']!.columns['pets'] = { type: 'integer', min: 0, max: 9 };
      },
      'rental_filings',
      'housing',
    );
    expect(unknown.message).toMatch(/column pets: the housing generator has no such column; use one of: citizen_id/);
    const wrongType = check(
      (s) => {
        s.datasets['school_enrolments']!.columns['grade'] = { type: 'category', values: ['一'] };
      },
      'school_enrolments',
      'education',
    );
    expect(wrongType.message).toMatch(/grade: the generator produces integer values but the schema declares category/);
  });

  it("the ground truth's reference levels are the schema's first values", async () => {
    const { scenario } = await loadScenario('sichuan');
    const raw = rawSchema();
    const sectors = raw.datasets['social_insurance']!.columns['sector']!['values'] as string[];
    sectors.push(sectors.shift()!); // 建筑业 first: its coefficient is not 0
    const err = configErrorOf(() =>
      checkReferenceLevels(scenario, parseSchema(raw, 'schema.json'), 'scenario.json', 'schema.json'),
    );
    expect(err.message).toBe(
      "scenario.json: groundTruth.insured: the reference level of sector is 建筑业, the first value of social_insurance.sector in schema.json, but its coefficient is -1.5; list 建筑业 first with coefficient 0, or reorder the schema's values",
    );
    const districts = rawSchema();
    (districts.datasets['residence_registrations']!.columns['district']!['values'] as string[]).reverse();
    expect(
      configErrorOf(() =>
        checkReferenceLevels(scenario, parseSchema(districts, 'schema.json'), 'scenario.json', 'schema.json'),
      ).message,
    ).toMatch(/^scenario\.json: groundTruth\.arrivals\.districtEffects: the reference level of district is 绵竹市/);
    expect(() =>
      checkReferenceLevels(scenario, parseSchema(rawSchema(), 'schema.json'), 'scenario.json', 'schema.json'),
    ).not.toThrow();
  });
});
