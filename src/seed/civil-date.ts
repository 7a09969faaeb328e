/**
 * Proleptic Gregorian calendar dates as integer day numbers (days since 1970-01-01, UTC), the only
 * date arithmetic the seed generator needs: birth dates consistent with an age on a reference date.
 * Date.UTC and the getUTC* accessors are exact integer arithmetic, so this is portable.
 */
const MS_PER_DAY = 86_400_000;

export interface CivilDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** The day number of a calendar date; month is 1-based and must be a valid date. */
export function dayNumber(year: number, month: number, day: number): number {
  return Date.UTC(year, month - 1, day) / MS_PER_DAY;
}

export function civilOfDay(dayNum: number): CivilDate {
  const d = new Date(dayNum * MS_PER_DAY);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** Parses `YYYY-MM-DD` (a real date, year 1900-9999) into a day number, or undefined. */
export function parseIsoDate(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m === null) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1900) return undefined;
  const n = dayNumber(y, mo, d);
  const c = civilOfDay(n);
  return c.year === y && c.month === mo && c.day === d ? n : undefined;
}

/** `YYYYMMDD`, the birth-date field of a GB 11643 identity number. */
export function compactDate(dayNum: number): string {
  const { year, month, day } = civilOfDay(dayNum);
  return `${year}${month < 10 ? '0' : ''}${month}${day < 10 ? '0' : ''}${day}`;
}

/** The same calendar day `years` later (earlier when negative); 29 February becomes 28 February. */
export function addYears(dayNum: number, years: number): number {
  const { year, month, day } = civilOfDay(dayNum);
  const y = year + years;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return dayNumber(y, month, month === 2 && day === 29 && !leap ? 28 : day);
}

/** Completed years of age on `refDay` for someone born on `birthDay`. */
export function ageOn(birthDay: number, refDay: number): number {
  const b = civilOfDay(birthDay);
  const r = civilOfDay(refDay);
  const beforeBirthday = r.month < b.month || (r.month === b.month && r.day < b.day);
  return r.year - b.year - (beforeBirthday ? 1 : 0);
}

/**
 * The inclusive range of birth days giving exactly `age` completed years on `refDay`:
 * born after the reference date `age + 1` years earlier, and on or before it `age` years earlier.
 */
export function birthDayRange(refDay: number, age: number): readonly [first: number, last: number] {
  if (!Number.isSafeInteger(age) || age < 0) throw new RangeError(`age must be a non-negative integer, got ${age}`);
  return [addYears(refDay, -(age + 1)) + 1, addYears(refDay, -age)];
}
