/**
 * The record-linkage methods of the Agency gRPC service (LinkStart, LinkBlind, LinkReblind,
 * LinkEncrypt, LinkLoad), answered by an `AgencyLinkage`. Only the callers the Agency service
 * allows (the coordinator) may call them. Requests are checked on the wire (link-messages-wire.ts,
 * link-streams-wire.ts) before the agency sees them; answers stream out with backpressure and stop
 * when the coordinator cancels or its deadline passes; every failure is a status through
 * toServiceError, never a crash.
 */
import type {
  sendUnaryData,
  ServerDuplexStream,
  ServerReadableStream,
  ServerWritableStream,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { FedstatError } from '../errors.js';
import type { AgencyLinkage } from '../protocol/links.js';
import {
  blindedChunkToWire,
  linkBlindRequestFromWire,
  linkReblindRequestFromWire,
  linkStartAnswerToWire,
  linkStartRequestFromWire,
} from './link-messages-wire.js';
import { EncryptRequestAssembler, encryptAnswerParts, LoadRequestAssembler } from './link-streams-wire.js';
import type {
  BlindedChunkMessage,
  LinkBlindRequestMessage,
  LinkEncryptAnswerPartMessage,
  LinkEncryptPartMessage,
  LinkLoadPartMessage,
  LinkReblindRequestMessage,
  LinkStartRequestMessage,
  LinkStartResponseMessage,
} from './proto.js';
import { toServiceError } from './status.js';
import {
  callerRefusal,
  readAll,
  unaryHandler as unary,
  writeAll,
  type AllowedCallers,
  type MessageSink,
} from './stream-calls.js';

/** Who sent a request, in BAD_MESSAGE errors: only the coordinator calls an agency. */
const CALLER = 'the coordinator';

/** The linkage an agency object carries (`Agency.linkage`), or null when it has none. */
export function linkageOf(agency: object): AgencyLinkage | null {
  const l = (agency as { linkage?: unknown }).linkage;
  if (l === null || typeof l !== 'object') return null;
  const methods = ['start', 'blind', 'reblind', 'encrypt', 'load'] as const;
  return methods.every((m) => typeof (l as Record<string, unknown>)[m] === 'function') ? (l as AgencyLinkage) : null;
}

function linkageOrRefusal(linkage: AgencyLinkage | null): AgencyLinkage {
  if (linkage === null)
    throw new FedstatError(
      'CONFIG_INVALID',
      'this agency takes no part in record linkage; serve it with a fedstat that links records',
    );
  return linkage;
}

/** A settled promise once the call is cancelled (its client went away or its deadline passed). */
function cancellation(
  call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
): Promise<void> {
  return call.cancelled ? Promise.resolve() : new Promise((resolve) => call.once('cancelled', () => resolve()));
}

/** Writes the parts with backpressure, then ends the call with OK; a failure ends it with its status. */
function answer(
  call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
  parts: Promise<Iterable<unknown>>,
): void {
  parts
    .then((messages) => writeAll(call as MessageSink, messages, cancellation(call)))
    .then(
      (whole) => {
        if (whole) call.end();
      },
      (e: unknown) => {
        if (!call.cancelled) call.emit('error', toServiceError(e));
      },
    );
}

/**
 * The five linkage handlers, for the Agency service of `addAgencyService`. `linkage` null: each
 * refuses with CONFIG_INVALID (the agency was built without record linkage).
 */
export function linkageHandlers(linkage: AgencyLinkage | null, allowed: AllowedCallers): UntypedServiceImplementation {
  return {
    LinkStart: unary<LinkStartRequestMessage, LinkStartResponseMessage>(allowed, async (req) =>
      linkStartAnswerToWire(await linkageOrRefusal(linkage).start(linkStartRequestFromWire(req, CALLER))),
    ),
    LinkReblind: unary<LinkReblindRequestMessage, BlindedChunkMessage>(allowed, async (req) =>
      blindedChunkToWire(await linkageOrRefusal(linkage).reblind(linkReblindRequestFromWire(req, CALLER))),
    ),
    LinkBlind: (call: ServerWritableStream<LinkBlindRequestMessage, BlindedChunkMessage>): void => {
      answer(
        call,
        Promise.resolve().then(async () => {
          const refused = callerRefusal(call, allowed);
          if (refused !== null) throw refused;
          const chunks = await linkageOrRefusal(linkage).blind(linkBlindRequestFromWire(call.request, CALLER));
          return chunks.map(blindedChunkToWire);
        }),
      );
    },
    LinkEncrypt: (call: ServerDuplexStream<LinkEncryptPartMessage, LinkEncryptAnswerPartMessage>): void => {
      answer(
        call,
        Promise.resolve().then(async () => {
          const refused = callerRefusal(call, allowed);
          if (refused !== null) throw refused;
          const phases = linkageOrRefusal(linkage);
          const request = new EncryptRequestAssembler(CALLER);
          await readAll<LinkEncryptPartMessage>(
            call,
            (m) => request.add(m),
            (e) => (e instanceof Error ? e : new FedstatError('INTERNAL', 'the request stream failed')),
            () => undefined,
          );
          return encryptAnswerParts(await phases.encrypt(request.finish()));
        }),
      );
    },
    LinkLoad: (
      call: ServerReadableStream<LinkLoadPartMessage, Record<string, never>>,
      callback: sendUnaryData<Record<string, never>>,
    ): void => {
      const refused = callerRefusal(call, allowed);
      if (refused !== null) {
        callback(toServiceError(refused), null);
        return;
      }
      Promise.resolve()
        .then(async () => {
          const phases = linkageOrRefusal(linkage);
          const request = new LoadRequestAssembler(CALLER);
          await readAll<LinkLoadPartMessage>(
            call,
            (m) => request.add(m),
            (e) => (e instanceof Error ? e : new FedstatError('INTERNAL', 'the request stream failed')),
            () => undefined,
          );
          await phases.load(request.finish());
        })
        .then(
          () => callback(null, {}),
          (e: unknown) => {
            if (!call.cancelled) callback(toServiceError(e), null);
          },
        );
    },
  };
}
