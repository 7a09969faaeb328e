/**
 * JSON for scripts. Exact integers stay exact: a bigint is written as a bare JSON integer with all
 * its digits (parsers with big-integer support read it exactly; JSON.parse in JavaScript rounds
 * values above 2^53, so read those fields as strings if you need every digit).
 */
export function toJson(value: unknown, indent = 2): string {
  const marks = new Map<string, string>();
  let n = 0;
  const text = JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v !== 'bigint') return v;
      const mark = `\u0000bigint${n++}\u0000`;
      marks.set(mark, v.toString());
      return mark;
    },
    indent,
  );
  return text.replace(/"\\u0000bigint\d+\\u0000"/g, (m) => marks.get(JSON.parse(m) as string) ?? m);
}
