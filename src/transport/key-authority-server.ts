/**
 * Serves a key authority over gRPC, or mounts it in a gRPC server its operator already runs.
 * Handlers convert wire messages to the domain types of src/protocol and back; every failure
 * becomes a status with a clear, secret-free message, never a crash, and the server keeps serving.
 */
import {
  Server,
  type ServerCredentials,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { FedstatError, describeError } from '../errors.js';
import { MAX_CIPHERTEXTS } from '../he/packing.js';
import type { ServableKeyAuthority } from '../key-authority/key-authority.js';
import { slotsToBytes } from '../protocol/contribution.js';
import type { DecryptionRequest } from '../protocol/decryption.js';
import { bindServer, FEDSTAT_VERSION, type RunningServer } from './agency-server.js';
import { keyAuthorityLimits, keyAuthorityServerOptions, type KeyAuthorityLimits } from './key-authority-limits.js';
import {
  keyAuthorityServiceDefinition,
  type DecryptRequestMessage,
  type DecryptResponseMessage,
  type DescribeKeyAuthorityResponseMessage,
} from './proto.js';
import { peerPartyId } from './credentials.js';
import { toServiceError } from './status.js';
import { logHeadToWire, logProofFromWire } from './log-proof-messages.js';

/**
 * Called with every failed call that is not a refusal of an authenticated query (those carry
 * `details.queryId` and reach the key authority's audit sink): forged, malformed or expired
 * requests, and unexpected failures (as INTERNAL, with a secret-free description).
 */
export type RejectionListener = (error: FedstatError) => void;

function unary<Req, Res>(
  handle: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
  onRejected: RejectionListener | undefined,
) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const fail = (e: unknown): void => {
      const err =
        e instanceof FedstatError
          ? e
          : new FedstatError('INTERNAL', `internal error in the key authority: ${describeError(e)}`, { cause: e });
      if (typeof err.details['queryId'] !== 'string') onRejected?.(err);
      // an unexpected failure's own words stay in this process
      callback(
        toServiceError(
          e instanceof FedstatError
            ? e
            : new FedstatError('INTERNAL', 'internal error in the key authority; see its log'),
        ),
        null,
      );
    };
    try {
      handle(call.request, call).then((res) => callback(null, res), fail);
    } catch (e) {
      fail(e);
    }
  };
}

function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new FedstatError('BAD_MESSAGE', `decryption request: ${what} is missing`);
  return v;
}

/** The wire request as the domain's DecryptionRequest (shape only; the key authority checks the rest). */
function toRequest(m: DecryptRequestMessage): DecryptionRequest {
  const cts: unknown = m.ciphertexts;
  if (!Array.isArray(cts) || !cts.every((c) => c instanceof Uint8Array))
    throw new FedstatError('BAD_MESSAGE', 'decryption request: ciphertexts are malformed');
  // Checked before the request signature, which would hash every ciphertext first.
  if (cts.length < 1 || cts.length > MAX_CIPHERTEXTS) {
    throw new FedstatError(
      'BAD_MESSAGE',
      `decryption request carries ${cts.length} ciphertexts, expected 1 to ${MAX_CIPHERTEXTS}`,
    );
  }
  const logProof = logProofFromWire(m.logProof, 'the coordinator');
  return {
    query: { bytes: bytes(m.query, 'query'), signature: bytes(m.querySignature, 'query signature') },
    survivors: {
      bytes: bytes(m.survivors, 'survivor set'),
      signature: bytes(m.survivorsSignature, 'survivor set signature'),
    },
    // Plain Uint8Array views: SEAL refuses Buffer (protobufjs decodes bytes into Buffers).
    ciphertexts: cts.map((c) => new Uint8Array(c.buffer, c.byteOffset, c.byteLength)),
    signature: bytes(m.signature, 'signature'),
    ...(logProof === undefined ? {} : { logProof }),
  };
}

export interface KeyAuthorityServiceOptions {
  readonly onRejected?: RejectionListener;
  /**
   * Party ids (the CN of the verified client certificate) allowed to call Decrypt, e.g. only the
   * coordinator. Unset: any peer that completed the handshake. Needs mTLS: on an insecure
   * server no caller has an id, so every Decrypt would be refused.
   */
  readonly decryptPeers?: readonly string[];
}

export function keyAuthorityServiceImplementation(
  ka: ServableKeyAuthority,
  options: KeyAuthorityServiceOptions = {},
): UntypedServiceImplementation {
  const { onRejected, decryptPeers } = options;
  return {
    Describe: unary<unknown, DescribeKeyAuthorityResponseMessage>(async () => {
      const d = await ka.describe();
      return {
        partyId: d.partyId,
        federationId: d.federationId,
        paramsId: d.paramsId,
        version: FEDSTAT_VERSION,
        logHead: logHeadToWire(d.logHead),
      };
    }, onRejected),
    Decrypt: unary<DecryptRequestMessage, DecryptResponseMessage>(async (req, call) => {
      if (decryptPeers !== undefined) {
        const peer = peerPartyId(call);
        if (peer === null || !decryptPeers.includes(peer)) {
          throw new FedstatError(
            'POLICY_REFUSED',
            `key authority refuses: party ${peer ?? '(unidentified)'} may not ask for decryptions; only ${decryptPeers.join(', ')} may`,
          );
        }
      }
      const answer = await ka.decrypt(toRequest(req));
      return {
        slots: answer.slots.map(slotsToBytes),
        signature: answer.signature,
        logEntries: [...(answer.logEntries ?? [])],
      };
    }, onRejected),
  };
}

/**
 * Adds the KeyAuthority service to an existing grpc-js server. That server's options must allow
 * requests of `keyAuthorityLimits(...).requestBytes` (see keyAuthorityServerOptions).
 */
function addKeyAuthorityService(
  server: Server,
  ka: ServableKeyAuthority,
  options: KeyAuthorityServiceOptions = {},
): void {
  server.addService(keyAuthorityServiceDefinition(), keyAuthorityServiceImplementation(ka, options));
}

export interface ServeKeyAuthorityOptions extends KeyAuthorityServiceOptions {
  /** Default: computed from the key authority's HE parameters (keyAuthorityLimits). */
  readonly limits?: KeyAuthorityLimits;
}

/**
 * Serves `ka` on host:port (port 0 picks a free one) with `credentials` (mTLS in production;
 * insecure only on loopback). Rejects with UNAVAILABLE when the address cannot be bound.
 */
export async function serveKeyAuthority(
  ka: ServableKeyAuthority,
  host: string,
  port: number,
  credentials: ServerCredentials,
  options: ServeKeyAuthorityOptions = {},
): Promise<RunningServer> {
  const limits = options.limits ?? keyAuthorityLimits(await ka.describe());
  const server = new Server(keyAuthorityServerOptions(limits));
  addKeyAuthorityService(server, ka, options);
  return bindServer(server, host, port, credentials);
}
