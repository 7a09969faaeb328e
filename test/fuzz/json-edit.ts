/**
 * Structure-aware mutations of signed JSON documents (query envelopes, survivor sets). The
 * fuzzers re-sign the result with the coordinator's key, so the edit gets past the signature and
 * reaches the validators behind it: a replaced, removed or added value anywhere in the tree, or
 * raw damage to the JSON text.
 */
import { flipBits, garbage, pick, type Rand } from './mutate.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Values that break type, range, sign, integrality, length or character-set assumptions. */
function oddValue(r: Rand, near: Json): Json {
  const palette: Json[] = [
    null,
    true,
    false,
    0,
    -1,
    1,
    0.5,
    -0.0,
    2 ** 53,
    -(2 ** 31),
    1e308,
    '',
    ' ',
    '0',
    'x'.repeat(1 + r(5000)),
    '\u0000',
    '锦江区 ',
    '"',
    '__proto__',
    'constructor',
    [],
    {},
    [null],
    { k: 1 },
    'count',
    'sum',
    'avg',
    'group',
    'and',
    'or',
    'not',
    'between',
    'in',
    'compare',
    'district',
    'age',
    'sex',
    'residents',
    '男',
    'encrypted',
    'plaintext',
    'agency-1',
    'agency-9',
  ];
  if (typeof near === 'number') palette.push(near + 1, near - 1, -near, near * 1000, near + 0.5);
  if (typeof near === 'string') palette.push(near.slice(1), `${near}x`, near.toUpperCase(), near.repeat(2));
  if (Array.isArray(near)) palette.push([...near, ...near], near.slice(1), [...near].reverse());
  return pick(r, palette);
}

interface Slot {
  parent: Json[] | { [k: string]: Json };
  key: number | string;
}

function slots(v: Json, out: Slot[] = []): Slot[] {
  if (Array.isArray(v))
    v.forEach((c, i) => {
      out.push({ parent: v, key: i });
      slots(c, out);
    });
  else if (v !== null && typeof v === 'object')
    for (const [k, c] of Object.entries(v)) {
      out.push({ parent: v, key: k });
      slots(c, out);
    }
  return out;
}

/** One random edit of a copy of `doc`: replace, delete, duplicate or add a value somewhere. */
export function editJson(doc: unknown, r: Rand): unknown {
  const copy = JSON.parse(JSON.stringify(doc)) as Json;
  const all = slots(copy);
  if (all.length === 0) return oddValue(r, copy);
  const { parent, key } = pick(r, all);
  const current = (parent as Record<string | number, Json>)[key] ?? null;
  switch (r(4)) {
    case 0:
    case 1:
      (parent as Record<string | number, Json>)[key] = oddValue(r, current);
      break;
    case 2:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    default:
      if (Array.isArray(parent)) parent.splice(key as number, 0, current);
      else parent[`${String(key)}${pick(r, ['', '_', 'X'])}${r(2) === 0 ? '' : 'extra'}`] = oddValue(r, current);
  }
  return copy;
}

/** Damage to the text itself: bit flips, a cut, inserted bytes, or another encoding of the same value. */
export function editJsonText(bytes: Uint8Array, r: Rand): Uint8Array {
  switch (r(5)) {
    case 0:
      return flipBits(bytes, r);
    case 1:
      return bytes.slice(0, r(Math.max(1, bytes.length)));
    case 2: {
      const at = r(bytes.length + 1);
      return Uint8Array.from([...bytes.subarray(0, at), ...garbage(r, 1 + r(16)), ...bytes.subarray(at)]);
    }
    case 3:
      return new TextEncoder().encode(JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)) as unknown, null, 1)); // same value, not canonical
    default:
      return Uint8Array.from([0xef, 0xbb, 0xbf, ...bytes]); // a BOM
  }
}

export function parseJson(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
}

export function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
