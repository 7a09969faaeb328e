/**
 * A WHERE condition given on its own (`fedstat train --where "age >= 18"`), parsed by the query
 * parser as the WHERE clause of a query over the dataset, with the same errors: positions are
 * those in the condition text, not in the query built around it.
 */
import { FedstatError } from '../errors.js';
import type { Schema } from '../federation/schema.js';
import { parseQuery } from './parse.js';
import type { Predicate } from './plan.js';

/** Parses `condition` over `dataset`; QUERY_SYNTAX or QUERY_INVALID at the position in `condition`. */
export function parseCondition(condition: string, dataset: string, schema: Schema): Predicate {
  // The condition starts a line of its own, so its line and column numbers are only shifted by one line.
  const prefix = `SELECT COUNT(*) FROM ${dataset} WHERE\n`;
  try {
    const { where } = parseQuery(`${prefix}${condition}`, schema);
    if (where === null)
      throw new FedstatError('QUERY_INVALID', 'the condition is empty; give one, such as "age >= 18", or leave it out');
    return where;
  } catch (e) {
    throw e instanceof FedstatError ? shifted(e, prefix.length) : e;
  }
}

/** The error with its position moved from the built query into the condition. */
function shifted(e: FedstatError, prefixLength: number): FedstatError {
  const { line, column, offset } = e.details;
  if (typeof line !== 'number' || typeof column !== 'number' || typeof offset !== 'number' || line < 2) return e;
  const message = e.message.replace(` at ${line}:${column}`, ` at ${line - 1}:${column}`);
  return new FedstatError(e.code, message, {
    details: { ...e.details, line: line - 1, offset: offset - prefixLength },
    cause: e,
  });
}
