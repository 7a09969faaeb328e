/** The coordinator's gRPC link to one agency, with a deadline on every call. */
import { makeGenericClientConstructor, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { FedstatError } from '../errors.js';
import type { Contribution } from '../protocol/contribution.js';
import type { AgencyDescription, AgencyLink, LinkagePhases } from '../protocol/links.js';
import type { SignedQuery } from '../protocol/query-envelope.js';
import type { UnmaskAnswer, UnmaskRequest } from '../protocol/unmask.js';
import {
  budgetsFromWire,
  contributionFromWire,
  ledgerFaultFromWire,
  unloggedFromWire,
  unmaskAnswerFromWire,
  unmaskRequestToWire,
} from './agency-messages.js';
import { channelOptionsFor } from './credentials.js';
import { CHANNEL_OPTIONS } from './limits.js';
import {
  agencyServiceDefinition,
  type AggregateResponseMessage,
  type DescribeResponseMessage,
  type UnmaskResponseMessage,
} from './proto.js';
import { GrpcLinkage } from './link-client.js';
import { fromServiceError } from './status.js';
import { logHeadFromWire, logProofToWire } from './log-proof-messages.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';

type Unary = (req: object, options: { deadline: Date }, cb: (err: ServiceError | null, res?: unknown) => void) => void;

export class GrpcAgencyLink implements AgencyLink {
  private readonly client: Client;
  /** Record linkage over the same channel; each phase's deadline covers its whole stream. */
  readonly linkage: LinkagePhases;

  /** `credentials` from credentials.ts; the server is authenticated as party `agencyId` whatever its address. */
  constructor(
    readonly agencyId: string,
    private readonly endpoint: string,
    credentials: ChannelCredentials,
  ) {
    const Ctor = makeGenericClientConstructor(agencyServiceDefinition(), 'Agency');
    this.client = new Ctor(endpoint, credentials, { ...CHANNEL_OPTIONS, ...channelOptionsFor(agencyId) });
    this.linkage = new GrpcLinkage(this.client, agencyId, endpoint);
  }

  private call(method: 'Describe' | 'Aggregate' | 'Unmask', req: object, deadlineMs: number): Promise<unknown> {
    const fn = (this.client as unknown as Record<string, Unary>)[method];
    if (fn === undefined) return Promise.reject(new FedstatError('INTERNAL', `no method ${method}`));
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, { deadline: new Date(Date.now() + deadlineMs) }, (err, res) => {
        if (err !== null) reject(fromServiceError(err, `agency ${this.agencyId}`, this.endpoint));
        else resolve(res);
      });
    });
  }

  async describe(deadlineMs: number): Promise<AgencyDescription> {
    const r = (await this.call('Describe', {}, deadlineMs)) as DescribeResponseMessage;
    const peer = `agency ${this.agencyId}`;
    return {
      agencyId: r.agencyId,
      federationId: r.federationId,
      paramsId: r.paramsId,
      datasets: r.datasets,
      budgets: budgetsFromWire(r.budgets, peer),
      logHead: logHeadFromWire(r.logHead, peer),
      unloggedEntries: unloggedFromWire(r.unloggedEntries, peer),
      ledgerFault: ledgerFaultFromWire(r.ledgerFault, peer),
    };
  }

  async aggregate(query: SignedQuery, deadlineMs: number, logProof?: QueryLogProof): Promise<Contribution> {
    const request = {
      query: query.bytes,
      signature: query.signature,
      ...(logProof === undefined ? {} : { logProof: logProofToWire(logProof) }),
    };
    const r = (await this.call('Aggregate', request, deadlineMs)) as AggregateResponseMessage;
    return contributionFromWire(r, `agency ${this.agencyId}`);
  }

  async unmask(request: UnmaskRequest, deadlineMs: number): Promise<UnmaskAnswer> {
    const r = (await this.call('Unmask', unmaskRequestToWire(request), deadlineMs)) as UnmaskResponseMessage;
    return unmaskAnswerFromWire(r);
  }

  close(): void {
    this.client.close();
  }
}
