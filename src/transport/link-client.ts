/**
 * The coordinator's side of record linkage over gRPC: `LinkagePhases` on one agency's channel.
 * Each phase is one call whose deadline covers the whole stream; what the agency streams back is
 * checked part by part as it arrives (a malformed part cancels the call with BAD_MESSAGE naming
 * the agency), and what the coordinator streams out waits for the channel to drain.
 */
import type {
  Client,
  ClientDuplexStream,
  ClientReadableStream,
  ClientWritableStream,
  ServiceError,
} from '@grpc/grpc-js';
import { FedstatError } from '../errors.js';
import type {
  BlindedChunk,
  LinkBlindRequest,
  LinkEncryptAnswer,
  LinkEncryptRequest,
  LinkLoadRequest,
  LinkReblindRequest,
  LinkStartAnswer,
  LinkStartRequest,
} from '../protocol/link-messages.js';
import type { LinkagePhases } from '../protocol/links.js';
import {
  badLink,
  blindedChunkFromWire,
  linkBlindRequestToWire,
  linkReblindRequestToWire,
  linkStartAnswerFromWire,
  linkStartRequestToWire,
} from './link-messages-wire.js';
import { EncryptAnswerAssembler, encryptRequestParts, loadRequestParts } from './link-streams-wire.js';
import type { LinkEncryptAnswerPartMessage, LinkStartResponseMessage } from './proto.js';
import { fromServiceError } from './status.js';
import { readAll, writeAll } from './stream-calls.js';

type Options = { deadline: Date };
type Callback = (err: ServiceError | null, res?: unknown) => void;
type Unary = (req: object, options: Options, cb: Callback) => void;
type ServerStream = (req: object, options: Options) => ClientReadableStream<unknown>;
type ClientStream = (options: Options, cb: Callback) => ClientWritableStream<unknown>;
type Bidi = (options: Options) => ClientDuplexStream<unknown, unknown>;

/** Record linkage on one agency's channel (owned and closed by its GrpcAgencyLink). */
export class GrpcLinkage implements LinkagePhases {
  private readonly peer: string;

  constructor(
    private readonly client: Client,
    private readonly agencyId: string,
    private readonly endpoint: string,
  ) {
    this.peer = `agency ${agencyId}`;
  }

  private method<F>(name: string): F {
    const fn = (this.client as unknown as Record<string, unknown>)[name];
    if (typeof fn !== 'function') throw new FedstatError('INTERNAL', `no method ${name} in the Agency service`);
    return (fn as (...args: unknown[]) => unknown).bind(this.client) as F;
  }

  private options(deadlineMs: number): Options {
    if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) throw new RangeError('linkage: deadlineMs must be positive');
    return { deadline: new Date(Date.now() + deadlineMs) };
  }

  private failed = (e: unknown): FedstatError =>
    e instanceof FedstatError ? e : fromServiceError(e as ServiceError, this.peer, this.endpoint);

  private unary(name: string, request: object, deadlineMs: number): Promise<unknown> {
    const options = this.options(deadlineMs);
    return new Promise((resolve, reject) => {
      this.method<Unary>(name)(request, options, (err, res) => {
        if (err !== null) reject(this.failed(err));
        else resolve(res);
      });
    });
  }

  /** Reads a server stream into `each`; a part `each` refuses cancels the call. */
  private receive<T>(call: ClientReadableStream<unknown>, each: (m: T) => void): Promise<void> {
    return readAll<T>(call, each, this.failed, () => call.cancel());
  }

  async start(request: LinkStartRequest, deadlineMs: number): Promise<LinkStartAnswer> {
    const r = (await this.unary('LinkStart', linkStartRequestToWire(request), deadlineMs)) as LinkStartResponseMessage;
    return linkStartAnswerFromWire(r, this.peer);
  }

  async blind(request: LinkBlindRequest, deadlineMs: number): Promise<readonly BlindedChunk[]> {
    const call = this.method<ServerStream>('LinkBlind')(linkBlindRequestToWire(request), this.options(deadlineMs));
    const chunks: BlindedChunk[] = [];
    await this.receive<unknown>(call, (m) => {
      const c = blindedChunkFromWire(m, this.peer);
      const first = chunks[0];
      if (c.phase !== 'blind') throw badLink(this.peer, 'blind chunk is not of phase blind');
      if (c.origin !== this.agencyId || c.by !== this.agencyId)
        throw badLink(this.peer, 'blind chunk holds the ids of, or was blinded by, another agency');
      if (c.index !== chunks.length) throw badLink(this.peer, 'chunk index is out of order');
      if (first !== undefined && (c.chunks !== first.chunks || c.origin !== first.origin || c.by !== first.by))
        throw badLink(this.peer, 'chunk count, origin or signer changes within one set');
      chunks.push(c);
    });
    const total = chunks[0]?.chunks ?? 0;
    if (chunks.length === 0 || chunks.length !== total)
      throw badLink(this.peer, 'blinded set has fewer chunks than it declares');
    return chunks;
  }

  async reblind(request: LinkReblindRequest, deadlineMs: number): Promise<BlindedChunk> {
    const r = await this.unary('LinkReblind', linkReblindRequestToWire(request), deadlineMs);
    const c = blindedChunkFromWire(r, this.peer);
    if (c.phase !== 'reblind') throw badLink(this.peer, 'reblind answer is not of phase reblind');
    const sent = request.chunk;
    // Raising to a key maps each element to one element: the chunk keeps its place and its size.
    if (c.origin !== sent.origin || c.index !== sent.index || c.chunks !== sent.chunks)
      throw badLink(this.peer, 're-blinded chunk answers another chunk than the one sent');
    if (c.elements.length !== sent.elements.length)
      throw badLink(this.peer, 're-blinded chunk has another element count than the one sent');
    if (c.by !== this.agencyId) throw badLink(this.peer, 're-blinded chunk is signed as another agency');
    return c;
  }

  async encrypt(request: LinkEncryptRequest, deadlineMs: number): Promise<LinkEncryptAnswer> {
    const parts = encryptRequestParts(request);
    const call = this.method<Bidi>('LinkEncrypt')(this.options(deadlineMs));
    const answer = new EncryptAnswerAssembler(this.peer);
    const received = this.receive<LinkEncryptAnswerPartMessage>(call, (m) => answer.add(m));
    // The whole request goes out (the agency answers only after it), then the answer comes in.
    if (await writeAll(call, parts, received)) call.end();
    await received;
    return answer.finish();
  }

  async load(request: LinkLoadRequest, deadlineMs: number): Promise<void> {
    const parts = loadRequestParts(request);
    const options = this.options(deadlineMs);
    let call: ClientWritableStream<unknown> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      call = this.method<ClientStream>('LinkLoad')(options, (err) => {
        if (err !== null) reject(this.failed(err));
        else resolve();
      });
    });
    if (call === undefined) throw new FedstatError('INTERNAL', 'LinkLoad did not start a call');
    // Errors are reported through the callback; the stream's own 'error' events must not go unheard.
    call.on('error', () => undefined);
    if (await writeAll(call, parts, done)) call.end();
    await done;
  }
}
