/**
 * A complete key authority service from files, as `fedstat key-authority serve` runs it: load the
 * federation and the key authority's key file, build the in-process key authority, and serve it
 * over gRPC (mTLS with the federation's certificates unless `insecure` on loopback) on the port of
 * its endpoint in the federation file.
 */
import type { ServerCredentials } from '@grpc/grpc-js';
import { JsonlAuditSink, allSinks, type AuditSink } from '../transparency/events.js';
import { FedstatError } from '../errors.js';
import { loadFederation, parseEndpoint, partyOfRole, type Federation } from '../federation/federation.js';
import { loadKeyFile } from '../federation/key-file.js';
import { serverCredentials } from '../transport/credentials.js';
import { serveKeyAuthority, type RejectionListener } from '../transport/key-authority-server.js';
import type { RunningServer } from '../transport/agency-server.js';
import { LogWitness } from '../transparency/log-witness.js';
import { InProcessKeyAuthority } from './key-authority.js';
import { isolatedSlotDecryptor, type SlotDecryptorFactory } from './slot-decryptor.js';

/** What `startKeyAuthorityNode` reads and how it serves; the options of `fedstat key-authority serve`. */
export interface KeyAuthorityNodeOptions {
  /** The federation file (federation.json). */
  readonly federationFile: string;
  /** The key authority's key file, with the BFV secret key. */
  readonly keyFile: string;
  /** Default: the host of the key authority's endpoint in the federation file, else 127.0.0.1. */
  readonly host?: string;
  /** Default: the port of the key authority's endpoint (CONFIG_INVALID if it has none). */
  readonly port?: number;
  /** Plain TCP instead of mTLS; refused unless the host is a loopback address. */
  readonly insecure?: boolean;
  /** Server credentials to use instead of those built from the federation (mTLS) or `insecure`. */
  readonly credentials?: ServerCredentials;
  /** Append every release and refusal to this JSON-lines file. */
  readonly auditLog?: string;
  /**
   * Where the key authority keeps the last transparency-log head it accepted (default: in memory,
   * trusting the first head after a start).
   */
  readonly logWitnessFile?: string;
  /** Also told of every release and every refusal of an authenticated query (the CLI prints them). */
  readonly onEvent?: AuditSink;
  /**
   * Told of every request refused before its query could be authenticated (forged, malformed,
   * expired) and of unexpected failures; refusals of authenticated queries go to `onEvent`.
   */
  readonly onRejected?: RejectionListener;
  /** Also decrypt encrypted-unmasked queries (benchmarks only). */
  readonly allowBenchmarkModes?: boolean;
  /** Where decryption runs; default an isolated SEAL worker thread. */
  readonly decryptor?: SlotDecryptorFactory;
}

/** A running key authority service (`startKeyAuthorityNode`). */
export interface KeyAuthorityNode {
  /** The key authority the service decrypts with. */
  readonly keyAuthority: InProcessKeyAuthority;
  /** The federation read from `federationFile`. */
  readonly federation: Federation;
  /** The key authority's party id. */
  readonly partyId: string;
  /** The port it listens on (the one picked when 0 was asked for). */
  readonly port: number;
  /** Stops the server, then closes the key authority. */
  close(): Promise<void>;
}

/**
 * Starts the key authority's gRPC service from its files. Over mTLS only the coordinator's
 * certificate may ask for decryptions. KEY_INVALID for a key file that is not the key authority's;
 * CONFIG_INVALID without a port (none given, no endpoint in the federation) or for `insecure` off
 * loopback; UNAVAILABLE when the port is in use.
 */
export async function startKeyAuthorityNode(options: KeyAuthorityNodeOptions): Promise<KeyAuthorityNode> {
  const federation = loadFederation(options.federationFile);
  const secrets = loadKeyFile(options.keyFile, federation);
  const me = partyOfRole(federation, 'key-authority');
  const endpoint = me.endpoint === null ? null : parseEndpoint(me.endpoint);
  const port = options.port ?? endpoint?.port;
  if (port === undefined) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `${federation.file} gives the key authority no endpoint; pass --port, or re-run fedstat init with --key-authority HOST:PORT`,
    );
  }
  const host = options.host ?? endpoint?.host ?? '127.0.0.1';
  const credentials =
    options.credentials ?? serverCredentials(federation, secrets, { insecure: options.insecure === true, host });
  const logWitness = await LogWitness.open(federation, `key authority ${me.id}`, options.logWitnessFile);
  const keyAuthority = await InProcessKeyAuthority.create({
    federation,
    secrets,
    logWitness,
    allowBenchmarkModes: options.allowBenchmarkModes === true,
    audit: allSinks(
      ...(options.auditLog === undefined ? [] : [new JsonlAuditSink(options.auditLog)]),
      ...(options.onEvent === undefined ? [] : [options.onEvent]),
    ),
    decryptor: options.decryptor ?? isolatedSlotDecryptor,
  });
  let server: RunningServer;
  try {
    server = await serveKeyAuthority(keyAuthority, host, port, credentials, {
      // Over mTLS only the coordinator's certificate may ask for decryptions (its signature is still checked).
      ...(options.insecure === true || options.credentials !== undefined
        ? {}
        : { decryptPeers: [partyOfRole(federation, 'coordinator').id] }),
      ...(options.onRejected === undefined ? {} : { onRejected: options.onRejected }),
    });
  } catch (e) {
    await keyAuthority.close();
    throw e;
  }
  return {
    keyAuthority,
    federation,
    partyId: me.id,
    port: server.port,
    close: async () => {
      await server.close();
      await keyAuthority.close();
    },
  };
}
