/**
 * The plumbing every gRPC handler and streaming client call of fedstat shares: who may call a
 * service, and reading and writing message streams so that a slow reader holds the writer back
 * (a write that returns false waits for 'drain'), a cancelled or failed call stops both sides
 * promptly, and a handler's failure settles its promise once, never as an unhandled error event.
 */
import type { EventEmitter } from 'node:events';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { FedstatError } from '../errors.js';
import { peerPartyId, type CallWithAuthContext } from './credentials.js';
import { toServiceError } from './status.js';

/**
 * Who may call a service: with mTLS, the party ids whose certificates (issued by the federation CA)
 * are accepted for this service; null on an insecure loopback server, where there is no peer
 * identity to check and signatures alone authenticate messages.
 */
export type AllowedCallers = readonly string[] | null;

/** POLICY_REFUSED when the caller's certificate is not one of `allowed`; null when it may call. */
export function callerRefusal(call: CallWithAuthContext, allowed: AllowedCallers): FedstatError | null {
  if (allowed === null) return null;
  const peer = peerPartyId(call);
  if (peer !== null && allowed.includes(peer)) return null;
  return new FedstatError(
    'POLICY_REFUSED',
    `caller ${peer ?? '(no party certificate)'} may not call this service; only ${allowed.join(', ')} may`,
  );
}

/** A unary handler: the caller checked against `allowed`, then `handle`'s answer or its failure as a status. */
export function unaryHandler<Req, Res>(allowed: AllowedCallers, handle: (req: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const refused = callerRefusal(call, allowed);
    if (refused !== null) {
      callback(toServiceError(refused), null);
      return;
    }
    Promise.resolve()
      .then(() => handle(call.request))
      .then(
        (res) => callback(null, res),
        (e: unknown) => callback(toServiceError(e), null),
      );
  };
}

/** A stream messages are written to: grpc-js server and client streams alike. */
export interface MessageSink extends EventEmitter {
  write(message: unknown): boolean;
}

/** A stream messages are read from: grpc-js server and client streams alike. */
export type MessageSource = EventEmitter;

/**
 * Writes `messages` in order; when a write returns false, waits for 'drain' unless `stopped`
 * settles first (the call failed or was cancelled), after which nothing more is written.
 * Resolves true when every message was written, false when it stopped early.
 */
export async function writeAll(
  sink: MessageSink,
  messages: Iterable<unknown>,
  stopped: Promise<unknown>,
): Promise<boolean> {
  let halted = false;
  const halt = stopped.then(
    () => (halted = true),
    () => (halted = true),
  );
  for (const m of messages) {
    if (halted) return false;
    if (!sink.write(m)) {
      let onDrain: (() => void) | undefined;
      const drained = new Promise<void>((resolve) => {
        onDrain = resolve;
        sink.once('drain', resolve);
      });
      await Promise.race([drained, halt]);
      if (onDrain !== undefined) sink.off('drain', onDrain);
    }
  }
  return !halted;
}

/**
 * Feeds every message of `source` to `each` until the stream ends. Rejects with what `each`
 * throws (and calls `abort`, so the peer stops sending), with `failure(e)` of an 'error' event,
 * or with UNAVAILABLE when a server call is cancelled (its client went away or its deadline
 * passed). Messages after a failure are ignored.
 */
export function readAll<T>(
  source: MessageSource,
  each: (message: T) => void,
  failure: (e: unknown) => Error,
  abort: () => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (e: Error | null): void => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      if (e === null) resolve();
      else reject(e);
    };
    const onData = (m: T): void => {
      if (settled) return;
      try {
        each(m);
      } catch (e) {
        settle(e instanceof Error ? e : new FedstatError('INTERNAL', 'a message handler failed; please report it'));
        abort();
      }
    };
    source.on('data', onData);
    source.once('end', () => settle(null));
    // Keep a listener for the call's lifetime: an 'error' event after settling must not crash the process.
    source.on('error', (e: unknown) => settle(failure(e)));
    source.once('cancelled', () =>
      settle(new FedstatError('UNAVAILABLE', 'the caller cancelled the call or its deadline passed')),
    );
  });
}
