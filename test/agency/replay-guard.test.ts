import { describe, expect, it } from 'vitest';
import { ReplayGuard } from '../../src/agency/replay-guard.js';
import { FedstatError } from '../../src/errors.js';

describe('ReplayGuard', () => {
  it('refuses an id until it expires, and forgets only expired ids', () => {
    const g = new ReplayGuard(3);
    g.admit('a', 100, 0);
    g.admit('b', 50, 0); // shorter-lived than the id before it
    expect(() => g.admit('a', 100, 10)).toThrow(FedstatError);
    expect(() => g.admit('b', 50, 49)).toThrow(/answered before/);
    g.admit('c', 200, 60); // b has expired; a is still guarded
    expect(() => g.admit('a', 100, 99)).toThrow(/answered before/);
    g.admit('d', 300, 120); // full: expired a and b make room
    expect(() => g.admit('c', 200, 150)).toThrow(/answered before/);
  });

  it('refuses new queries when full of unexpired ids', () => {
    const g = new ReplayGuard(2);
    g.admit('a', 100, 0);
    g.admit('b', 100, 0);
    expect(() => g.admit('c', 100, 1)).toThrow(/too many open queries/);
  });
});
