/**
 * Opening a coordinator from files: the federation file, the coordinator's key file and (for the
 * in-process key authority) the key authority's key file, found in `keys/` beside the federation
 * file unless given. Agencies, and a key authority that has an endpoint, are reached over gRPC
 * with mTLS (the coordinator's certificate from the federation CA) unless `insecure` on loopback.
 */
import type { SecAggGraphChoice } from '../secagg/sparse-params.js';
import type { TrainerRegistry } from '../learn/fl/trainer-registry.js';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FedstatError } from '../errors.js';
import { HeParams } from '../he/he-params.js';
import { presetByName } from '../he/presets.js';
import type { AuditSink } from '../transparency/events.js';
import { TransparencyLogStore } from '../transparency/log-store.js';
import { TransparencyLogSink } from '../transparency/log-sink.js';
import { logOperator } from '../transparency/log-operator.js';
import { agencies, loadFederation, parseEndpoint, partyOfRole, type Federation } from '../federation/federation.js';
import { loadKeyFile, type PartySecrets } from '../federation/key-file.js';
import { InProcessKeyAuthority, type KeyAuthority } from '../key-authority/key-authority.js';
import { isolatedSlotDecryptor } from '../key-authority/slot-decryptor.js';
import { GrpcKeyAuthority } from '../transport/key-authority-client.js';
import { GrpcAgencyLink } from '../transport/agency-client.js';
import { channelCredentials, channelOptionsFor } from '../transport/credentials.js';
import { Coordinator } from './coordinator.js';
import { requireCoordinatorKey } from './coordinator-options.js';

/** Where `connectCoordinator` finds the federation's files, and how it reaches the other parties. */
export interface ConnectOptions {
  /** The federation file's path, or the federation already loaded (`loadFederation`). */
  readonly federation: string | Federation;
  /** Coordinator key file; default `keys/coordinator.key` beside the federation file. */
  readonly keyFile?: string;
  /** Key authority key file for the in-process key authority (no endpoint in the federation); default `keys/key-authority.key`. */
  readonly keyAuthorityKeyFile?: string;
  /** Where the coordinator, and an in-process key authority, record their events (default: nowhere). */
  readonly audit?: AuditSink;
  /**
   * The transparency log this coordinator operates (created if missing): every query, every
   * agency's signed entries, the survivor set, the key authority's decryption and the release
   * are appended, and the signed tree head is published beside it (`LOG.head.json`). Default,
   * when the federation requires the log: `transparency.log` beside the federation file. `false`
   * for a coordinator that will only explain, dry-run or read budgets: the log is not opened (nor
   * locked), and `query` is refused where the federation requires the log.
   */
  readonly transparencyLog?: string | false;
  /** Plain TCP instead of mTLS; refused unless every endpoint is a loopback address. */
  readonly insecure?: boolean;
  /** Deadline of every Describe call, to the agencies and to a remote key authority (default 5 s). */
  readonly describeDeadlineMs?: number;
  /** Deadline of every Decrypt call to a remote key authority (default KEY_AUTHORITY_DEADLINE_MS, 60 s). */
  readonly keyAuthorityDeadlineMs?: number;
  /** Trainers of models of your own for `trainNetwork` (CoordinatorOptions.trainers). */
  readonly trainers?: TrainerRegistry;
  /** Dense or sparse secure aggregation (CoordinatorOptions.secureAggregation; default by size). */
  readonly secureAggregation?: SecAggGraphChoice;
}

function defaultKeyFile(federationFile: string, party: string): string {
  return join(dirname(federationFile), 'keys', `${party}.key`);
}

/** Where the coordinator keeps the federation's transparency log unless told otherwise. */
export function defaultTransparencyLog(federationFile: string): string {
  return join(dirname(federationFile), 'transparency.log');
}

/**
 * The key authority the federation file describes: a remote service (mTLS, its answers' signatures
 * checked) when it names an endpoint, otherwise in this process from its key file.
 */
async function openKeyAuthority(
  federation: Federation,
  secrets: PartySecrets,
  options: ConnectOptions,
  insecure: boolean,
  params: HeParams,
): Promise<KeyAuthority> {
  const ka = partyOfRole(federation, 'key-authority');
  if (ka.endpoint !== null) {
    const endpointHost = parseEndpoint(ka.endpoint)?.host ?? '';
    return new GrpcKeyAuthority(
      federation,
      ka.endpoint,
      channelCredentials(federation, secrets, { insecure, endpointHost }),
      channelOptionsFor(ka.id),
      {
        params,
        ...(options.keyAuthorityDeadlineMs === undefined ? {} : { deadlineMs: options.keyAuthorityDeadlineMs }),
        ...(options.describeDeadlineMs === undefined ? {} : { describeDeadlineMs: options.describeDeadlineMs }),
      },
    );
  }
  const kaKeyFile = options.keyAuthorityKeyFile ?? defaultKeyFile(federation.file, 'key-authority');
  if (!existsSync(kaKeyFile)) {
    throw new FedstatError(
      'KEY_INVALID',
      `key authority key file ${kaKeyFile} not found; the in-process key authority needs it (pass --key-authority-key FILE, or run it as a service with an endpoint in the federation file)`,
    );
  }
  // It signs its own log entries (its decryption) and returns them with its answer, as a remote one does.
  return InProcessKeyAuthority.create({
    federation,
    secrets: loadKeyFile(kaKeyFile, federation),
    decryptor: isolatedSlotDecryptor,
    params,
    ...(options.audit === undefined ? {} : { audit: options.audit }),
  });
}

/**
 * A coordinator from the federation's files: its key file, the transparency log, the key authority
 * (remote or in process) and a gRPC link per agency; no agency is contacted yet. IO or
 * CONFIG_INVALID for an unreadable or invalid federation file, KEY_INVALID for a missing or wrong key file.
 */
export async function connectCoordinator(options: ConnectOptions): Promise<Coordinator> {
  const federation = typeof options.federation === 'string' ? loadFederation(options.federation) : options.federation;
  const secrets = loadKeyFile(options.keyFile ?? defaultKeyFile(federation.file, 'coordinator'), federation);
  const insecure = options.insecure === true;
  // One SEAL context for the process: the key authority borrows it, the coordinator owns it.
  const params = await HeParams.create(presetByName(federation.he.preset));
  let keyAuthority: KeyAuthority;
  let log: TransparencyLogSink | undefined;
  try {
    const given = options.transparencyLog;
    const logFile =
      given === false
        ? undefined
        : (given ?? (federation.policy.transparencyLog ? defaultTransparencyLog(federation.file) : undefined));
    if (logFile !== undefined) {
      requireCoordinatorKey(secrets);
      if (logOperator(federation).source === 'transparency.operatorKey') {
        throw new FedstatError(
          'CONFIG_INVALID',
          `${federation.file} names a dedicated log operator key (transparency.operatorKey), but this coordinator signs tree heads with its own key; remove the transparency section so the coordinator operates the log`,
        );
      }
      const store = await TransparencyLogStore.open(logFile, {
        logId: federation.id,
        secretKey: secrets.signing.secretKey,
      });
      log = new TransparencyLogSink(store, secrets.party, secrets.signing.secretKey);
    }
    keyAuthority = await openKeyAuthority(federation, secrets, options, insecure, params);
  } catch (e) {
    await log?.store.close();
    params[Symbol.dispose]();
    throw e;
  }
  const links = agencies(federation).map((a) => {
    const endpointHost = parseEndpoint(a.endpoint ?? '')?.host ?? '';
    return new GrpcAgencyLink(
      a.id,
      a.endpoint ?? '',
      channelCredentials(federation, secrets, { insecure, endpointHost }),
    );
  });
  try {
    return await Coordinator.create({
      federation,
      secrets,
      keyAuthority,
      links,
      params,
      ...(options.describeDeadlineMs === undefined ? {} : { describeDeadlineMs: options.describeDeadlineMs }),
      ...(options.audit === undefined ? {} : { audit: options.audit }),
      ...(log === undefined ? {} : { transparencyLog: log }),
      ...(options.trainers === undefined ? {} : { trainers: options.trainers }),
      ...(options.secureAggregation === undefined ? {} : { secureAggregation: options.secureAggregation }),
    });
  } catch (e) {
    for (const l of links) l.close();
    await keyAuthority.close();
    await log?.store.close();
    params[Symbol.dispose]();
    throw e;
  }
}
