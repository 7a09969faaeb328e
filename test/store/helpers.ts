/** Shared fixtures for the store tests: temp folders, a small schema, valid citizen IDs. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { gb11643CheckChar } from '../../src/util/gb11643.js';

/** A temp folder removed after the file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `fedstat-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let fileCounter = 0;
/** Writes `content` to a fresh file in `dir` and returns its path. */
export function writeCsv(dir: string, content: string | Uint8Array, name?: string): string {
  const path = join(dir, name ?? `f${++fileCounter}.csv`);
  writeFileSync(path, content);
  return path;
}

/** A valid 18-character ID with the given 17 leading digits. */
export function citizenId(first17: string): string {
  return first17 + gb11643CheckChar(first17);
}

export const PEOPLE_SCHEMA: DatasetSchema = parseSchema(
  {
    datasets: {
      people: {
        maxRows: 1000,
        columns: {
          pid: { type: 'id', format: 'gb11643' },
          district: { type: 'category', values: ['锦江区', '青羊区', '金牛区'] },
          age: { type: 'integer', min: 0, max: 120 },
          balance: { type: 'integer', min: -50000, max: 50000 },
        },
      },
    },
  },
  'test',
).datasets['people']!;

export const ID1 = citizenId('51010419900101123');
export const ID2 = citizenId('51010719851231002');
export const ID3 = citizenId('51010220000229007');
