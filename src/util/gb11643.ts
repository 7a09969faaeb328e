/**
 * GB 11643-1999 citizen identity numbers: 17 digits (6-digit region code, 8-digit birth date,
 * 3-digit sequence whose parity is the sex) and an ISO 7064 MOD 11-2 check character.
 */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK = '10X98765432';

/** The check character for the first 17 digits. */
export function gb11643CheckChar(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new RangeError('expected exactly 17 digits');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * (WEIGHTS[i] ?? 0);
  return CHECK[sum % 11] ?? '';
}

/** True when `id` is 18 characters with a plausible birth date and a correct check character. */
export function isValidGb11643(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const date = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return false;
  return gb11643CheckChar(id.slice(0, 17)) === id[17];
}
