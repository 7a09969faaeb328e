/**
 * The same mutants over real gRPC on 127.0.0.1 with mTLS: a served agency (only the coordinator's
 * certificate may call it) gets mutated Aggregate and Unmask requests, a served key authority
 * (isolated SEAL worker; only the coordinator may ask for decryptions) mutated Decrypt requests,
 * all sent by a raw client holding the coordinator's certificate whose serializer passes bytes
 * through untouched. A few calls come from another party's certificate.
 * Claims: every failed call carries a typed fedstat code (never INTERNAL), or is a transport
 * refusal of bytes that do not even parse or exceed the size limit; whatever is accepted passes
 * the same checks as in process; both servers keep serving, and a real coordinator reaching them
 * over mTLS then releases the exact result.
 */
import {
  makeGenericClientConstructor,
  status,
  type Client,
  type MethodDefinition,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import { isolatedSlotDecryptor } from '../../src/key-authority/slot-decryptor.js';
import type { DecryptionRequest } from '../../src/protocol/decryption.js';
import { checkUnmaskAnswer } from '../../src/protocol/unmask.js';
import {
  contributionFromWire,
  unmaskAnswerFromWire,
  unmaskRequestFromWire,
  unmaskRequestToWire,
} from '../../src/transport/agency-messages.js';
import { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import { serveAgencyService, type RunningServer } from '../../src/transport/agency-server.js';
import { channelCredentials, channelOptionsFor, serverCredentials } from '../../src/transport/credentials.js';
import { GrpcKeyAuthority } from '../../src/transport/key-authority-client.js';
import { serveKeyAuthority } from '../../src/transport/key-authority-server.js';
import { agencyServiceDefinition, keyAuthorityServiceDefinition } from '../../src/transport/proto.js';
import { queryMutant, unmaskMutant, type AgencyMutant } from './agency-mutants.js';
import { decryptMutant, largestMutants, type DecryptMutant } from './decrypt-mutants.js';
import {
  createFuzzFederation,
  SQL,
  type FuzzFederation,
  type GenuineRound,
  type IssuedQuery,
  type PendingRound,
} from './fuzz-federation.js';
import { parseJson } from './json-edit.js';
import { fuzzSeed, pick, prng, scaled } from './mutate.js';
import { FuzzLog, MAX_RSS_GROWTH_BYTES, ReleaseLedger, RevealLedger } from './outcomes.js';
import {
  AGGREGATE_REQUEST,
  AGGREGATE_RESPONSE,
  DECRYPT_REQUEST,
  DECRYPT_RESPONSE,
  sameBytes,
  UNMASK_REQUEST,
  UNMASK_RESPONSE,
} from './wire.js';

const AGGREGATES = scaled(160);
const UNMASKS = scaled(100);
const DECRYPTS = scaled(160);
const WARMUP = 160;
/** The served agency. */
const SERVED = 'agency-1';

const seed = fuzzSeed();
const rand = prng(seed);
const log = new FuzzLog('over-gRPC fuzz (mTLS, 127.0.0.1)', seed);
let f: FuzzFederation;
let ka: InProcessKeyAuthority;
let servers: RunningServer[];
let agencyPort: number;
let kaPort: number;
let pending: PendingRound[];
let rounds: GenuineRound[];
let templates: DecryptionRequest[];
const clients: Client[] = [];

type Raw = Client & Record<string, (b: Buffer, o: object, cb: (e: ServiceError | null, res?: Buffer) => void) => void>;

/** A client that sends and receives raw bytes, with `party`'s certificate from the federation CA. */
function rawClient(definition: ServiceDefinition, port: number, peer: string, party = 'coordinator'): Raw {
  const raw = Object.fromEntries(
    Object.entries(definition).map(([name, m]) => [
      name,
      {
        ...(m as MethodDefinition<object, object>),
        requestSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    ]),
  ) as ServiceDefinition;
  const Ctor = makeGenericClientConstructor(raw, `Raw${peer}`);
  const credentials = channelCredentials(f.federation, f.secrets[party]!, {
    insecure: false,
    endpointHost: '127.0.0.1',
  });
  const c = new Ctor(`127.0.0.1:${port}`, credentials, {
    ...channelOptionsFor(peer),
    'grpc.max_send_message_length': 64 << 20,
    'grpc.max_receive_message_length': 64 << 20,
  }) as Raw;
  clients.push(c);
  return c;
}

function send(c: Raw, method: string, bytes: Uint8Array): Promise<{ error: ServiceError } | { response: Uint8Array }> {
  return new Promise((resolve) => {
    c[method]!.call(
      c,
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      { deadline: new Date(Date.now() + 20_000) },
      (e, res) => resolve(e !== null ? { error: e } : { response: new Uint8Array(res ?? Buffer.alloc(0)) }),
    );
  });
}

beforeAll(async () => {
  f = await createFuzzFederation(rand);
  ka = await InProcessKeyAuthority.create({
    federation: f.federation,
    secrets: f.secrets['key-authority']!,
    decryptor: isolatedSlotDecryptor,
  });
  const host = '127.0.0.1';
  const agencyServer = await serveAgencyService(f.agencies.get(SERVED)!, host, 0, {
    credentials: serverCredentials(f.federation, f.secrets[SERVED]!, { insecure: false, host }),
    allowedCallers: ['coordinator'],
  });
  const kaServer = await serveKeyAuthority(
    ka,
    host,
    0,
    serverCredentials(f.federation, f.secrets['key-authority']!, { insecure: false, host }),
    {
      decryptPeers: ['coordinator'],
    },
  );
  servers = [agencyServer, kaServer];
  [agencyPort, kaPort] = [agencyServer.port, kaServer.port];
  const [, a2, a3, a4] = f.ids as [string, string, string, string];
  pending = [];
  for (const answering of [undefined, undefined, [SERVED, a2, a3]]) pending.push(await f.round1(f.issue(), answering));
  rounds = [];
  for (const answering of [undefined, [a2, a3, a4]]) rounds.push(await f.genuineRound(f.issue(), answering));
  templates = rounds.map((r) => f.decryptionRequest(r));
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  await ka.close();
  await f.close();
});

/**
 * Classifies a failed call: a fedstat code (not INTERNAL) is typed; a status without one must be
 * grpc-js refusing bytes that do not parse, or a message above the limit.
 */
function failed(kind: string, method: string, e: ServiceError, parses: boolean, i: number): void {
  const code = e.metadata?.get('fedstat-code')[0];
  if (typeof code === 'string') {
    if (code === 'INTERNAL') log.untyped.push(`case ${i} ${kind}: ${method} answered INTERNAL: ${e.details}`);
    log.count(`${kind}: ${method} ${code}`);
  } else if (!parses || e.code === status.RESOURCE_EXHAUSTED) {
    log.count(`${kind}: ${method} refused by transport (${status[e.code] ?? e.code})`);
  } else {
    log.untyped.push(
      `case ${i} ${kind}: ${method} failed without a fedstat code: ${status[e.code] ?? e.code} ${e.details}`,
    );
  }
}

function parses(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): boolean {
  try {
    decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const fresh: IssuedQuery[] = [];
const reveals = new RevealLedger();
let releases: ReleaseLedger;
let accepted = 0;

async function aggregateCase(i: number, agency: Raw): Promise<void> {
  if (fresh.length === 0 || rand(8) === 0) fresh.push(f.issue());
  const q = pick(rand, fresh);
  const o = pick(
    rand,
    [...fresh, ...pending.map((p) => p.query)].filter((x) => x !== q),
  );
  const m: AgencyMutant = queryMutant({ f, rand }, q, o, SERVED);
  const r = await send(agency, 'Aggregate', m.bytes);
  if ('error' in r) return failed(m.kind, 'Aggregate', r.error, parses(AGGREGATE_REQUEST.decode, m.bytes), i);
  const sent = AGGREGATE_REQUEST.decode(m.bytes);
  try {
    f.checkAnswer(sent.query, SERVED, contributionFromWire(AGGREGATE_RESPONSE.decode(r.response), SERVED));
  } catch (e) {
    log.untyped.push(`case ${i} ${m.kind}: the agency's answer fails the coordinator's checks: ${String(e)}`);
  }
  if (
    !m.resigned &&
    ![q, o].some((g) => sameBytes(g.signed.bytes, sent.query) && sameBytes(g.signed.signature, sent.signature))
  ) {
    log.untyped.push(`case ${i} ${m.kind}: answered a query that is not the genuine one`);
  }
  accepted++;
  log.count(`${m.kind}: Aggregate answered`);
}

async function unmaskCase(i: number, agency: Raw): Promise<void> {
  const round = pick(rand, pending);
  const m = unmaskMutant({ f, rand }, round, SERVED, pending);
  if (m.to !== SERVED) {
    // misrouted: only SERVED listens here, so it gets a request addressed to another survivor
    const addressee = pick(
      rand,
      round.survivorIds.filter((a) => a !== SERVED),
    );
    return unmaskBytes(i, agency, m.kind, UNMASK_REQUEST.encode(unmaskRequestToWire(round.requests.get(addressee)!)));
  }
  return unmaskBytes(i, agency, m.kind, m.bytes);
}

async function unmaskBytes(i: number, agency: Raw, kind: string, bytes: Uint8Array): Promise<void> {
  const r = await send(agency, 'Unmask', bytes);
  if ('error' in r) return failed(kind, 'Unmask', r.error, parses(UNMASK_REQUEST.decode, bytes), i);
  const request = unmaskRequestFromWire(UNMASK_REQUEST.decode(bytes));
  const queryId = (parseJson(request.query.bytes) as { queryId: string }).queryId;
  try {
    const answer = unmaskAnswerFromWire(UNMASK_RESPONSE.decode(r.response));
    checkUnmaskAnswer(
      answer,
      request,
      { federationId: f.federation.id, queryId, agencyId: SERVED },
      f.federation.parties.find((p) => p.id === SERVED)!.signingKey,
    );
    const both = reveals.note(SERVED, queryId, answer);
    if (both.length > 0) log.untyped.push(`case ${i} ${kind}: revealed both secrets of ${both.join(', ')}`);
  } catch (e) {
    log.untyped.push(`case ${i} ${kind}: the agency's round-2 answer fails the coordinator's checks: ${String(e)}`);
  }
  accepted++;
  log.count(`${kind}: Unmask answered`);
}

async function decryptCase(i: number, keyAuthority: Raw, given?: DecryptMutant): Promise<void> {
  const k = rand(templates.length);
  const t = templates[k]!;
  const m =
    given ??
    decryptMutant(
      f,
      rand,
      t,
      pick(
        rand,
        templates.filter((x) => x !== t),
      ),
      rounds[k]!,
    );
  const r = await send(keyAuthority, 'Decrypt', m.bytes);
  if ('error' in r) return failed(m.kind, 'Decrypt', r.error, parses(DECRYPT_REQUEST.decode, m.bytes), i);
  const sent = DECRYPT_REQUEST.decode(m.bytes);
  const problems = releases.note(sent, DECRYPT_RESPONSE.decode(r.response).slots.length);
  if (problems.length > 0)
    log.untyped.push(`case ${i} ${m.kind}: decrypted against the release policy (${problems.join(', ')})`);
  if (
    !m.resigned &&
    !templates.some(
      (g) =>
        sameBytes(g.signature, sent.signature) &&
        sameBytes(g.query.bytes, sent.query) &&
        sameBytes(g.survivors.bytes, sent.survivors),
    )
  ) {
    log.untyped.push(`case ${i} ${m.kind}: decrypted a request the coordinator never signed`);
  }
  accepted++;
  log.count(`${m.kind}: Decrypt answered`);
}

describe('wire fuzz over gRPC with mTLS', () => {
  it(`${AGGREGATES} Aggregate, ${UNMASKS} Unmask and ${DECRYPTS} Decrypt mutants on 127.0.0.1: typed statuses, servers keep serving, exact afterwards`, async () => {
    log.start();
    releases = new ReleaseLedger(f.federation.policy.minAgencies);
    const agency = rawClient(agencyServiceDefinition(), agencyPort, SERVED);
    const keyAuthority = rawClient(keyAuthorityServiceDefinition(), kaPort, 'key-authority');
    const plan = [
      ...Array.from({ length: AGGREGATES }, () => 'a'),
      ...Array.from({ length: UNMASKS }, () => 'u'),
      ...Array.from({ length: DECRYPTS }, () => 'd'),
    ];
    for (let i = plan.length - 1; i > 0; i--) {
      // interleaved, seeded
      const j = rand(i + 1);
      [plan[i], plan[j]] = [plan[j]!, plan[i]!];
    }
    const largest = largestMutants(f, templates[0]!);
    for (const [i, m] of largest.entries()) await decryptCase(i - largest.length, keyAuthority, m);
    for (const [i, what] of plan.entries()) {
      log.tick(i, plan.length, WARMUP);
      if (what === 'a') await aggregateCase(i, agency);
      else if (what === 'u') await unmaskCase(i, agency);
      else await decryptCase(i, keyAuthority);
    }
    // Another party's certificate: the handshake succeeds (same CA), the services refuse the caller.
    const strangers = [
      rawClient(agencyServiceDefinition(), agencyPort, SERVED, 'agency-2'),
      rawClient(keyAuthorityServiceDefinition(), kaPort, 'key-authority', 'agency-2'),
    ];
    const t = templates[0]!;
    for (let k = 0; k < 4; k++) {
      const q = pick(rand, fresh).signed;
      const r =
        k % 2 === 0
          ? await send(strangers[0]!, 'Aggregate', AGGREGATE_REQUEST.encode({ query: q.bytes, signature: q.signature }))
          : await send(
              strangers[1]!,
              'Decrypt',
              DECRYPT_REQUEST.encode({
                query: t.query.bytes,
                querySignature: t.query.signature,
                survivors: t.survivors.bytes,
                survivorsSignature: t.survivors.signature,
                ciphertexts: [...t.ciphertexts],
                signature: t.signature,
              }),
            );
      if ('error' in r) failed('wrong caller', k % 2 === 0 ? 'Aggregate' : 'Decrypt', r.error, true, -1);
      else log.untyped.push(`wrong caller ${k}: answered`);
    }
    const total = largest.length + plan.length + 4;
    console.log(
      log.report(total, [
        `  accepted: ${accepted} (round-2 answers checked: ${reveals.answers}, decryptions: ${releases.size})`,
      ]),
    );

    expect(log.untyped).toEqual([]);
    expect(log.total()).toBe(total);
    expect(
      log.total('wrong caller: Aggregate POLICY_REFUSED') + log.total('wrong caller: Decrypt POLICY_REFUSED'),
    ).toBe(4);
    expect(log.rssGrowth()).toBeLessThan(MAX_RSS_GROWTH_BYTES);

    // Still serving: a coordinator reaching the agency and the key authority over mTLS gets the exact rows.
    const coordinatorSecrets = f.secrets['coordinator']!;
    const credentials = channelCredentials(f.federation, coordinatorSecrets, {
      insecure: false,
      endpointHost: '127.0.0.1',
    });
    const links = f
      .links()
      .map((l) => (l.agencyId === SERVED ? new GrpcAgencyLink(SERVED, `127.0.0.1:${agencyPort}`, credentials) : l));
    const remote = new GrpcKeyAuthority(
      f.federation,
      `127.0.0.1:${kaPort}`,
      credentials,
      channelOptionsFor('key-authority'),
      { params: f.params },
    );
    try {
      await using coordinator = await f.coordinator(remote, links);
      const result = await coordinator.query(SQL);
      expect(result.agencies.answered).toEqual(f.ids);
      expect(result.rows).toEqual(f.expectedRows());
    } finally {
      for (const l of links) l.close();
      await remote.close();
    }
  }, 120_000);
});
