/**
 * The exact shape of each audit event a log entry may carry: the `AuditEvent` union of
 * events.ts, field for field. A log entry comes from a peer (or a file an auditor was
 * handed), so decoding checks every key and type rather than trusting a cast; an event that does
 * not match its kind's shape exactly is a malformed entry, never a partly read one.
 */
import type { AuditEvent } from './events.js';
import { parseCanonicalRho } from '../dp/rho.js';
import { isRecord } from '../util/is-record.js';

/** The kind of an entry: the `type` of the event it carries. */
export type EntryKind = AuditEvent['type'];

export const ENTRY_KINDS: readonly EntryKind[] = Object.freeze([
  'query',
  'contribution',
  'refusal',
  'survivors',
  'unmask',
  'decryption',
  'budget',
  'release',
]);

type Check = (v: unknown) => boolean;

const MAX_ID = 256;
const HEX64 = /^[0-9a-f]{64}$/;
const str: Check = (v) => typeof v === 'string';
const id: Check = (v) => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID;
const count: Check = (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const ids: Check = (v) => Array.isArray(v) && v.every(id);
const hex64: Check = (v) => typeof v === 'string' && HEX64.test(v);
const hexes: Check = (v) => Array.isArray(v) && v.every(hex64);
const rho: Check = (v) => typeof v === 'string' && parseCanonicalRho(v) !== null;
const rhoOrNull: Check = (v) => v === null || rho(v);
const json: Check = (v) => v !== undefined;

/** Field checks per kind, besides `type`; `at` and `queryId` are in every kind. */
const SHAPES: Readonly<Record<EntryKind, Readonly<Record<string, Check>>>> = {
  query: { digest: hex64, sql: str, plan: json, agencies: ids },
  contribution: { agencyId: id, digest: hex64 },
  refusal: { agencyId: id, reason: str },
  survivors: { survivors: ids, dropped: ids },
  unmask: { agencyId: id, survivors: ids, dropped: ids },
  decryption: { contributors: ids, dropped: ids, ciphertextDigests: hexes },
  budget: { agencyId: id, dataset: id, rho, spent: rho, budget: rho, ledgerHead: str },
  release: { contributors: ids, rows: count, suppressed: count, rho: rhoOrNull },
};

/** Whether `kind` is one of the entry kinds. */
export function isEntryKind(kind: unknown): kind is EntryKind {
  return typeof kind === 'string' && Object.hasOwn(SHAPES, kind);
}

/**
 * Why `body` is not the body (the event without `type`) of a `kind` event, or null when it is.
 * The body must have exactly the kind's keys.
 */
export function bodyProblem(kind: EntryKind, body: unknown): string | null {
  if (!isRecord(body)) return 'the body is not an object';
  const shape = SHAPES[kind];
  if (!count(body['at'])) return 'at is not a non-negative integer (ms since the epoch)';
  if (!id(body['queryId'])) return 'queryId is not a non-empty string';
  const keys = Object.keys(body);
  for (const key of keys) {
    if (key !== 'at' && key !== 'queryId' && !Object.hasOwn(shape, key))
      return `a ${kind} entry has no field ${JSON.stringify(key)}`;
  }
  for (const [key, check] of Object.entries(shape)) {
    if (!check(body[key])) return `field ${key} of a ${kind} entry is missing or of the wrong type`;
  }
  return null;
}

/** Why `event` is not a well-formed AuditEvent, or null. */
export function eventProblem(event: unknown): string | null {
  if (!isRecord(event)) return 'the event is not an object';
  const { type, ...body } = event;
  if (!isEntryKind(type)) return `unknown event type ${JSON.stringify(type)}`;
  return bodyProblem(type, body);
}
