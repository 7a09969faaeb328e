import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import { bindToSchema, datasetSource } from '../../src/seed/datasets.js';
import { parseScenario } from '../../src/seed/scenario.js';
import { listScenarios, loadScenario, scenarioAgencies, seedsDirectory } from '../../src/seed/scenario-registry.js';

const dir = join(seedsDirectory(), 'sichuan');
const rawScenario = (): Record<string, unknown> =>
  JSON.parse(readFileSync(join(dir, 'scenario.json'), 'utf8')) as Record<string, unknown>;
const rawSchema = (): { datasets: Record<string, { columns: Record<string, Record<string, unknown>> }> } =>
  JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8')) as never;

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
          (r['sectors'] as Record<string, { insuredPerMille: number }>)['制造业']!.insuredPerMille = 1001;
        },
        /sectors\["制造业"\]\.insuredPerMille: expected an integer in \[0, 1000\]/,
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
});
