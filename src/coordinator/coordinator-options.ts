/**
 * What a coordinator is made of (`Coordinator.create`): the federation, the coordinator's key
 * file, the key authority, one link per agency and the optional logs, checked before anything is
 * opened.
 */
import type { TrainerRegistry } from '../learn/fl/trainer-registry.js';
import { FedstatError } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import type { PartySecrets } from '../federation/key-file.js';
import { HeParams } from '../he/he-params.js';
import { presetByName } from '../he/presets.js';
import type { KeyAuthority } from '../key-authority/key-authority.js';
import type { AgencyLink } from '../protocol/links.js';
import type { SecAggGraphChoice } from '../secagg/sparse-params.js';
import type { AuditSink } from '../transparency/events.js';
import type { TransparencyLogSink } from '../transparency/log-sink.js';

/** The parts of a coordinator, as values (`connectCoordinator` builds them from files). */
export interface CoordinatorOptions {
  /** The federation the coordinator queries; every party must hold the same federation file. */
  readonly federation: Federation;
  /** The coordinator's key file; KEY_INVALID when it is another party's. The coordinator signs queries and survivor sets with it. */
  readonly secrets: PartySecrets;
  /** The key authority that decrypts the unmasked totals. The coordinator takes ownership: it closes it on close. */
  readonly keyAuthority: KeyAuthority;
  /** One link per agency of the federation. */
  readonly links: readonly AgencyLink[];
  /** Where the coordinator records each query, survivor set and release (default: nowhere). */
  readonly audit?: AuditSink;
  /**
   * The transparency log this coordinator operates (it closes the store). The query is made
   * durable in it before anyone is asked; agencies and the key authority get the proof with each
   * request; their signed entries, the survivor set and the release are appended, made durable
   * before the result is returned, and the signed tree head is published beside the log file.
   * `query` refuses to run without one when the federation's policy requires the log.
   */
  readonly transparencyLog?: TransparencyLogSink;
  /** Current time in milliseconds since the epoch, for query validity and records (default `Date.now`). */
  readonly clock?: () => number;
  /** How long a query stays valid for agencies (default 5 minutes; a join, whose linkage comes first, 1 hour). */
  readonly queryTtlMs?: number;
  /** Deadline for the Describe round (default 5 s). */
  readonly describeDeadlineMs?: number;
  /**
   * Where untrusted ciphertexts are loaded and added: `worker` (default) in an isolated SEAL worker
   * thread that is recycled if SEAL fails, so a hostile ciphertext can never poison this process;
   * `in-thread` for tests and tools that create many short-lived coordinators.
   */
  readonly isolation?: 'worker' | 'in-thread';
  /**
   * The federation's HE parameters, when the caller already built them (to share one SEAL
   * context with an in-process key authority). The coordinator takes ownership: it disposes them
   * on close, after closing the key authority.
   */
  readonly params?: HeParams;
  /**
   * Trainers of models of the developer's own, by name, for `trainNetwork` specs that name one
   * (`NetworkSpec.trainer`); every agency registers the same names.
   */
  readonly trainers?: TrainerRegistry;
  /**
   * The secure-aggregation graph of each query: `auto` (default) is dense up to 64 agencies and
   * SecAgg+ above (docs/threat-model.md gives the sizing); `dense` always masks everyone with
   * everyone; a `{ degree, shareThreshold }` forces that sparse graph (tests and benchmarks).
   */
  readonly secureAggregation?: SecAggGraphChoice;
}

/** KEY_INVALID unless `secrets` is the coordinator's key file. */
export function requireCoordinatorKey(secrets: PartySecrets): void {
  if (secrets.role !== 'coordinator') {
    throw new FedstatError(
      'KEY_INVALID',
      `key file of ${secrets.party} is not the coordinator's; pass the coordinator key with --key`,
    );
  }
}

/**
 * The HE parameters the coordinator runs with: `options.params` when given (CONFIG_INVALID, and
 * disposed, when they are not the federation's preset), otherwise built from the federation's preset.
 */
export async function coordinatorParams(options: CoordinatorOptions): Promise<HeParams> {
  const given = options.params;
  if (given !== undefined && given.preset.name !== options.federation.he.preset) {
    given[Symbol.dispose]();
    throw new FedstatError(
      'CONFIG_INVALID',
      `HE parameters ${given.preset.name} given, but the federation uses ${options.federation.he.preset}`,
    );
  }
  return given ?? (await HeParams.create(presetByName(options.federation.he.preset)));
}
