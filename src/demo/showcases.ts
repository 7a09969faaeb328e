/**
 * The demo's statistics, drawn from the source article on migrant-population governance: the
 * questions a provincial coordinator asks across public security, HR/social insurance, housing and
 * education without any agency handing over its records (数据可用不可见).
 */
export interface Showcase {
  readonly title: string;
  readonly english: string;
  /** One query, or two whose results are combined into an indicator. */
  readonly sql: readonly string[];
  /** For two-query showcases: how the indicator is derived. */
  readonly indicator?: {
    readonly name: string;
    readonly description: string;
    /** Column of the first and of the second query's rows to divide, joined on `joinOn`. */
    readonly numerator: string;
    readonly denominator: string;
    readonly joinOn: string;
    /** Multiplier of the ratio (100 → per hundred). */
    readonly scale: number;
  };
}

export const SHOWCASES: readonly Showcase[] = [
  {
    title: '三市公安局登记的流动人口（按市、区）',
    english: "Migrants registered by the three cities' public-security bureaus, by city and district",
    sql: [
      'SELECT city, district, COUNT(*) AS registered, AVG(months_resident) AS avg_months_resident FROM residence_registrations GROUP BY city, district',
    ],
  },
  {
    title: '参保流动人口月均收入（按区）',
    english: 'Average monthly income of insured migrants, by district (HR/social-insurance bureaus)',
    sql: [
      "SELECT district, COUNT(*) AS insured_workers, AVG(monthly_income) AS avg_monthly_income FROM social_insurance WHERE insured = '是' GROUP BY district",
    ],
  },
  {
    title: '租赁备案覆盖率：住建租赁备案 ÷ 公安居住登记（按区）',
    english: 'Cross-agency indicator: rental filings per 100 residence registrations, from two encrypted aggregates',
    sql: [
      'SELECT district, COUNT(*) AS rental_filings FROM rental_filings GROUP BY district',
      'SELECT district, COUNT(*) AS registrations FROM residence_registrations GROUP BY district',
    ],
    indicator: {
      name: 'filings_per_100',
      description: 'rental filings per 100 registered migrants',
      numerator: 'rental_filings',
      denominator: 'registrations',
      joinOn: 'district',
      scale: 100,
    },
  },
  {
    title: '常住半年以上劳动年龄流动人口来源地',
    english: 'Working-age migrants resident six months or more, by province of origin',
    sql: [
      'SELECT origin_province, COUNT(*) AS migrants, AVG(age) AS avg_age FROM residence_registrations WHERE age BETWEEN 16 AND 59 AND months_resident >= 6 GROUP BY origin_province',
    ],
  },
  {
    title: '分行业参保情况',
    english: 'Insured and uninsured workers by sector (GROUP BY two columns)',
    sql: [
      'SELECT sector, insured, COUNT(*) AS workers, SUM(contribution_months) AS contribution_months FROM social_insurance GROUP BY sector, insured',
    ],
  },
  {
    title: '随迁子女义务教育入学（按市、学校类型）',
    english: 'Migrant children in compulsory education, by city and school type (education bureaus)',
    sql: [
      'SELECT city, school_type, COUNT(*) AS pupils FROM school_enrolments WHERE grade BETWEEN 1 AND 9 GROUP BY city, school_type',
    ],
  },
];
