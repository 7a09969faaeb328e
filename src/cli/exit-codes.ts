/** Process exit codes of the CLI, one per class of failure (documented in docs/cli.md). */
import type { ErrorCode } from '../errors.js';

export const EXIT = Object.freeze({
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  CONFIG: 3,
  QUERY: 4,
  DATA: 5,
  REFUSED: 6,
  NETWORK: 7,
  IO: 8,
});

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'CONFIG_INVALID':
    case 'KEY_INVALID':
      return EXIT.CONFIG;
    case 'QUERY_SYNTAX':
    case 'QUERY_INVALID':
    case 'NOT_FOUND':
      return EXIT.QUERY;
    case 'DATA_INVALID':
      return EXIT.DATA;
    case 'POLICY_REFUSED':
    case 'PLAN_UNSAFE':
      return EXIT.REFUSED;
    case 'UNAVAILABLE':
    case 'BAD_MESSAGE':
    case 'REPLAY':
    case 'STALE_HEAD':
    case 'MESSAGE_TOO_LARGE':
      return EXIT.NETWORK;
    case 'IO':
      return EXIT.IO;
    case 'INTERNAL':
      return EXIT.INTERNAL;
  }
}
