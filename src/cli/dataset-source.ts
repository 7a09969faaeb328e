/**
 * `--dataset NAME=SOURCE` of `fedstat agency serve`, read into the agency node's dataset sources:
 * `NAME` alone (the DuckDB store's table, --db), `NAME=postgres:SCHEMA.TABLE` (a live table),
 * `NAME=FILE.parquet` or a quoted glob of them (read in place), `NAME=FILE.csv` (loaded).
 */
import type { DatasetSource } from '../agency/node.js';
import { FedstatError } from '../errors.js';

const POSTGRES_PREFIX = 'postgres:';
const FORMS =
  'NAME=FILE.csv, NAME=FILE.parquet (or a quoted glob), NAME=postgres:SCHEMA.TABLE, or NAME alone with --db';

/** One `--dataset` value's source (`spec` is what follows `NAME=`, or null for NAME alone). */
function sourceOf(name: string, spec: string | null): DatasetSource {
  if (spec === null) return { kind: 'stored' };
  if (spec.startsWith(POSTGRES_PREFIX)) {
    const table = spec.slice(POSTGRES_PREFIX.length);
    if (table === '')
      throw new FedstatError(
        'CONFIG_INVALID',
        `--dataset ${name}=postgres: names no table; write postgres:SCHEMA.TABLE`,
      );
    return { kind: 'postgres', table };
  }
  if (spec === '') throw new FedstatError('CONFIG_INVALID', `--dataset ${name}= names no source; expected ${FORMS}`);
  if (/\.parquet$/i.test(spec)) return { kind: 'parquet', files: spec };
  return { kind: 'csv', file: spec };
}

/** The `--dataset` values (repeatable) as name → source; CONFIG_INVALID for an empty or repeated name. */
export function parseDatasetSources(specs: readonly string[]): Record<string, DatasetSource> {
  const out: Record<string, DatasetSource> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? spec : spec.slice(0, eq);
    if (name === '' || Object.hasOwn(out, name))
      throw new FedstatError('CONFIG_INVALID', `--dataset ${spec}: expected ${FORMS}, each dataset once`);
    out[name] = sourceOf(name, eq < 0 ? null : spec.slice(eq + 1));
  }
  return out;
}
