/**
 * Accountability events. Every query, contribution, refusal and release is recorded through an
 * AuditSink; today the sinks are an in-memory list and an append-only JSON-lines file, and the
 * transparency-log issue replaces them with a signed Merkle log behind the same interface.
 * Events carry hashes and counts, never record values or secrets.
 */
import { appendFileSync, openSync, closeSync, fsyncSync } from 'node:fs';
import { canonicalJson } from '../util/canonical-json.js';

/**
 * One accountability event, by `type`: a query planned, a contribution or refusal by an agency,
 * the survivors of round 1, an unmask, a decryption, a budget charge, a release. `at` is in
 * milliseconds since the epoch, digests are hex, agencies are named by party id.
 */
export type AuditEvent =
  /** `digest` is the hex query digest of the signed envelope the agencies receive (binds ρ, threshold, expiry). */
  | {
      readonly type: 'query';
      readonly at: number;
      readonly queryId: string;
      readonly digest: string;
      readonly sql: string;
      readonly plan: unknown;
      readonly agencies: readonly string[];
    }
  | {
      readonly type: 'contribution';
      readonly at: number;
      readonly queryId: string;
      readonly agencyId: string;
      readonly digest: string;
    }
  | {
      readonly type: 'refusal';
      readonly at: number;
      readonly queryId: string;
      readonly agencyId: string;
      readonly reason: string;
    }
  | {
      readonly type: 'survivors';
      readonly at: number;
      readonly queryId: string;
      readonly survivors: readonly string[];
      readonly dropped: readonly string[];
    }
  | {
      readonly type: 'unmask';
      readonly at: number;
      readonly queryId: string;
      readonly agencyId: string;
      readonly survivors: readonly string[];
      readonly dropped: readonly string[];
    }
  /** The key authority decrypted the sum of `contributors` (the survivors); `ciphertextDigests` are hex SHA-256 of what it decrypted. */
  | {
      readonly type: 'decryption';
      readonly at: number;
      readonly queryId: string;
      readonly contributors: readonly string[];
      readonly dropped: readonly string[];
      readonly ciphertextDigests: readonly string[];
    }
  /**
   * An agency durably charged `rho` (canonical "n/d") to its own budget for `dataset`; `spent` is
   * its total after the charge and `ledgerHead` the hash-chain head of its ledger.
   */
  | {
      readonly type: 'budget';
      readonly at: number;
      readonly queryId: string;
      readonly agencyId: string;
      readonly dataset: string;
      readonly rho: string;
      readonly spent: string;
      readonly budget: string;
      readonly ledgerHead: string;
    }
  /** `rho` is null for an exact release; `suppressed` counts withheld cells, primary + complementary. */
  | {
      readonly type: 'release';
      readonly at: number;
      readonly queryId: string;
      readonly contributors: readonly string[];
      readonly rows: number;
      readonly suppressed: number;
      readonly rho: string | null;
    };

/** Where a party records its accountability events. */
export interface AuditSink {
  /** Records `event` before returning; throws when it cannot. */
  append(event: AuditEvent): void;
}

export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  append(event: AuditEvent): void {
    this.events.push(event);
  }
}

/** Appends one canonical JSON line per event and fsyncs it before returning. */
export class JsonlAuditSink implements AuditSink {
  constructor(private readonly file: string) {}
  /** Appends `event` to the file (created 0600 if missing) and fsyncs it; throws if either fails. */
  append(event: AuditEvent): void {
    appendFileSync(this.file, `${canonicalJson(event)}\n`, { mode: 0o600 });
    const fd = openSync(this.file, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

export const NO_AUDIT: AuditSink = Object.freeze({ append: () => undefined });

/** One sink that appends every event to each of `sinks`, in order. */
export function allSinks(...sinks: readonly AuditSink[]): AuditSink {
  return {
    append: (event) => {
      for (const s of sinks) s.append(event);
    },
  };
}
