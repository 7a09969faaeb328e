/**
 * The two datasets of a linked-record query and how its column names resolve: `s.sector` by the
 * alias (or by the dataset name when it has none), a bare `sector` only when exactly one side has
 * it. In an anti-join the NOT EXISTS dataset is out of scope outside its subquery, as in SQL.
 */
import type { DatasetSchema } from '../federation/schema.js';
import type { Identifier } from './ast-node.js';
import type { JoinKind, JoinSideName } from './join-plan.js';
import { idColumnError, queryableColumns } from './names.js';
import type { ResolvedColumn } from './names.js';
import { QueryContext } from './query-context.js';
import { queryInvalid, quoted } from './query-error.js';
import type { SourcePosition } from './query-error.js';
import type { Token } from './sql-lexer.js';
import { closest, listNames } from './suggest.js';

/** One dataset of the query as written. */
export interface ScopeSide {
  readonly name: JoinSideName;
  /** The dataset's name as the schema spells it. */
  readonly dataset: string;
  readonly ds: DatasetSchema;
  /** The alias written, or the dataset name when none. */
  readonly alias: string;
  /** True when an alias was written (then the dataset name no longer qualifies columns). */
  readonly aliased: boolean;
}

/** A column resolved to its side and schema spelling. */
export interface SideColumn {
  readonly side: ScopeSide;
  readonly col: ResolvedColumn;
}

/** The schema's spelling of the column `typed` names in `side` (case-insensitive), if any. */
function columnNamed(side: ScopeSide, typed: string): string | undefined {
  const lower = typed.toLowerCase();
  return Object.keys(side.ds.columns).find((c) => c.toLowerCase() === lower);
}

export class JoinScope {
  constructor(
    readonly sql: string,
    readonly tokens: readonly Token[],
    readonly kind: JoinKind,
    readonly left: ScopeSide,
    readonly right: ScopeSide,
  ) {}

  side(name: JoinSideName): ScopeSide {
    return name === 'left' ? this.left : this.right;
  }

  /** How a column of `side` is written: `s.sector`. */
  qualified(side: ScopeSide, column: string): string {
    return `${side.alias}.${column}`;
  }

  /** A single-dataset context for `side`, reading `tokens` (all of them by default). */
  context(side: ScopeSide, tokens: readonly Token[] = this.tokens): QueryContext {
    return new QueryContext(this.sql, tokens, side.dataset, side.ds, [side.alias.toLowerCase()]);
  }

  /** The side a qualifier names, or a refusal with did-you-mean. */
  sideOfQualifier(qualifier: string, ident: Identifier, at: SourcePosition | null): ScopeSide {
    const q = qualifier.toLowerCase();
    const hit = [this.left, this.right].find((s) => s.alias.toLowerCase() === q);
    if (hit !== undefined) return hit;
    const byName = [this.left, this.right].find((s) => s.aliased && s.dataset.toLowerCase() === q);
    if (byName !== undefined) {
      throw queryInvalid(
        `${byName.dataset} is called ${byName.alias} in this query`,
        at,
        `write ${this.qualified(byName, ident.name)}`,
        { table: qualifier },
      );
    }
    const aliases = [this.left.alias, this.right.alias];
    const near = closest(qualifier, aliases)[0];
    throw queryInvalid(
      `unknown table ${quoted(qualifier)} in ${quoted(`${qualifier}.${ident.name}`)}`,
      at,
      `this query reads ${this.left.alias} (${this.left.dataset}) and ${this.right.alias} (${this.right.dataset})${near === undefined ? '' : ` (did you mean ${near}?)`}`,
      { table: qualifier },
    );
  }

  /** The side an unqualified name belongs to; id columns, unknown and ambiguous names are refused. */
  private sideOfBare(name: string, at: SourcePosition | null, sides: readonly ScopeSide[]): ScopeSide {
    const has = (s: ScopeSide): string | undefined => columnNamed(s, name);
    for (const s of sides) {
      const c = has(s);
      if (c !== undefined && s.ds.columns[c]?.type === 'id') throw idColumnError(s.dataset, c, at);
    }
    const found = sides.filter((s) => has(s) !== undefined);
    const [first, second] = found;
    if (first !== undefined && second !== undefined) {
      throw queryInvalid(
        `the column ${quoted(name)} is ambiguous: both ${first.dataset} and ${second.dataset} have it`,
        at,
        `write ${this.qualified(first, name)} or ${this.qualified(second, name)}`,
        { columnName: name },
      );
    }
    if (first !== undefined) return first;
    const valid = sides.flatMap((s) => queryableColumns(s.ds).map((c) => this.qualified(s, c)));
    const near =
      closest(name, valid)[0] ??
      closest(
        name,
        sides.flatMap((s) => queryableColumns(s.ds)),
      )[0];
    throw queryInvalid(
      `unknown column ${quoted(name)} in ${sides.map((s) => s.dataset).join(' or ')}`,
      at,
      `valid columns: ${listNames(valid)}${near === undefined ? '' : ` (did you mean ${near}?)`}`,
      { columnName: name, valid },
    );
  }

  /**
   * Resolves a column of the outer query (SELECT, WHERE, GROUP BY). In an anti-join only the
   * FROM dataset is in scope; naming the NOT EXISTS dataset gets the reason.
   */
  resolve(ident: Identifier, at: SourcePosition | null): SideColumn {
    const sides = this.kind === 'anti' ? [this.left] : [this.left, this.right];
    let side: ScopeSide;
    if (ident.qualifier === null) {
      // A bare name only the NOT EXISTS dataset has: say why it is out of reach, not just "unknown".
      if (this.kind === 'anti' && columnNamed(this.left, ident.name) === undefined) {
        const name = columnNamed(this.right, ident.name);
        if (name !== undefined) throw this.antiRightRefusal(name, at);
      }
      side = this.sideOfBare(ident.name, at, sides);
    } else {
      side = this.sideOfQualifier(ident.qualifier, ident, at);
      if (this.kind === 'anti' && side.name === 'right') throw this.antiRightRefusal(ident.name, at);
    }
    return { side, col: this.context(side).column({ name: ident.name, qualifier: null }, at) };
  }

  private antiRightRefusal(name: string, at: SourcePosition | null) {
    return queryInvalid(
      `${this.right.dataset}.${name} is a column of the NOT EXISTS dataset`,
      at,
      `an anti-join selects, groups and filters only columns of ${this.left.dataset}; its records are counted when no ${this.right.dataset} record has their id`,
      { columnName: name },
    );
  }
}
