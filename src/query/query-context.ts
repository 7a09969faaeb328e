/**
 * What the clause readers share while turning one SQL statement into a plan: the text (for
 * positions), its tokens, and the dataset the statement reads, with column resolution that
 * checks table qualifiers (`residents.age`, `r.age` after `FROM residents r`).
 */
import type { DatasetSchema } from '../federation/schema.js';
import { spanOf } from './ast-node.js';
import type { Identifier } from './ast-node.js';
import { resolveColumn } from './names.js';
import type { ResolvedColumn } from './names.js';
import { positionAt, queryInvalid, quoted } from './query-error.js';
import type { SourcePosition } from './query-error.js';
import type { Token } from './sql-lexer.js';

export class QueryContext {
  constructor(
    readonly sql: string,
    readonly tokens: readonly Token[],
    readonly datasetName: string,
    readonly dataset: DatasetSchema,
    /** Names a column may be qualified with: the dataset as typed and its alias, lower-cased. */
    private readonly qualifiers: readonly string[],
  ) {}

  /** The position of `node` when the grammar recorded it, else of `fallback` (a node or an offset). */
  pos(node: unknown, fallback?: unknown): SourcePosition | null {
    const span = spanOf(node);
    if (span !== null) return positionAt(this.sql, span.start);
    if (typeof fallback === 'number') return positionAt(this.sql, fallback);
    if (fallback !== undefined) return this.pos(fallback);
    return null;
  }

  /** Resolves a typed column (checking its qualifier) to the schema's spelling. */
  column(ident: Identifier, at: SourcePosition | null): ResolvedColumn {
    if (ident.qualifier !== null && !this.qualifiers.includes(ident.qualifier.toLowerCase())) {
      throw queryInvalid(
        `unknown table ${quoted(ident.qualifier)} in ${quoted(`${ident.qualifier}.${ident.name}`)}`,
        at,
        `this query reads only ${this.datasetName}; write the column name alone`,
        { table: ident.qualifier },
      );
    }
    return resolveColumn(this.datasetName, this.dataset, ident.name, at);
  }
}
