/**
 * Key authority side of the wire: mutated DecryptRequest bytes reach the KeyAuthority service's
 * own Decrypt handler (protobuf decode as grpc-js runs it, then the handler's conversion, the
 * release policy and decryption in an isolated SEAL worker, as `fedstat key-authority serve`
 * runs it). Many mutants are validly re-signed with the coordinator's key over a fresh query and
 * survivor set (a curious or compromised coordinator), so they get past the signatures and reach
 * the policy checks and SEAL.
 * Claims: every refusal is a typed status (never INTERNAL); an unsigned mutant is decrypted only
 * if it decodes to a genuine request; whatever is decrypted satisfies the release policy checked
 * independently here (encrypted mode, enough survivors, one decryption per query id); RSS stays
 * flat; afterwards a genuine request decrypts to the exact plaintext rows.
 */
import type { sendUnaryData, ServerUnaryCall, ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { InProcessKeyAuthority, type ServableKeyAuthority } from '../../src/key-authority/key-authority.js';
import { isolatedSlotDecryptor } from '../../src/key-authority/slot-decryptor.js';
import { bytesToSlots } from '../../src/protocol/contribution.js';
import { decryptionRequestDigest, type DecryptionRequest } from '../../src/protocol/decryption.js';
import { keyAuthorityServiceImplementation } from '../../src/transport/key-authority-server.js';
import type { DecryptRequestMessage, DecryptResponseMessage } from '../../src/transport/proto.js';
import { decryptMutant, largestMutants, toWire, type DecryptMutant } from './decrypt-mutants.js';
import { createFuzzFederation, SQL, type FuzzFederation, type GenuineRound } from './fuzz-federation.js';
import { fuzzSeed, pick, prng, scaled } from './mutate.js';
import { FuzzLog, MAX_RSS_GROWTH_BYTES, ReleaseLedger } from './outcomes.js';
import { DECRYPT_REQUEST, sameBytes } from './wire.js';

const CASES = scaled(1600);
const WARMUP = 300;

const seed = fuzzSeed();
const rand = prng(seed);
const log = new FuzzLog('key-authority-side fuzz', seed);
let f: FuzzFederation;
let ka: InProcessKeyAuthority;
let rounds: GenuineRound[];
let templates: DecryptionRequest[];
/** The error behind the last failed call, as thrown (the status only carries its code). */
let lastError: unknown;
let handler: (
  call: ServerUnaryCall<DecryptRequestMessage, DecryptResponseMessage>,
  callback: sendUnaryData<DecryptResponseMessage>,
) => void;

beforeAll(async () => {
  f = await createFuzzFederation(rand);
  ledger = new ReleaseLedger(f.federation.policy.minAgencies);
  ka = await InProcessKeyAuthority.create({
    federation: f.federation,
    secrets: f.secrets['key-authority']!,
    decryptor: isolatedSlotDecryptor,
  });
  const [a1, a2, a3, a4] = f.ids as [string, string, string, string];
  rounds = [];
  for (const answering of [undefined, undefined, [a1, a2, a3], [a2, a3, a4]])
    rounds.push(await f.genuineRound(f.issue(), answering));
  templates = rounds.map((r) => f.decryptionRequest(r));
  // The served handler, in front of a key authority that remembers what it threw.
  const spy: ServableKeyAuthority = {
    describe: () => ka.describe(),
    decrypt: (r) =>
      ka.decrypt(r).catch((e: unknown) => {
        lastError = e;
        throw e;
      }),
    close: () => ka.close(),
  };
  const impl = keyAuthorityServiceImplementation(spy, {
    onRejected: (e) => {
      lastError ??= e;
    },
  });
  handler = impl['Decrypt'] as typeof handler;
}, 60_000);
afterAll(async () => {
  await ka.close();
  await f.close();
});

/** Calls the Decrypt handler as grpc-js would: the status code it sends, or the answer. */
function call(request: DecryptRequestMessage): Promise<{ code: string } | { answer: DecryptResponseMessage }> {
  lastError = undefined;
  return new Promise((resolve) => {
    handler(
      { request } as ServerUnaryCall<DecryptRequestMessage, DecryptResponseMessage>,
      (err: Partial<ServiceError> | null, res?: DecryptResponseMessage | null) => {
        if (err !== null) resolve({ code: String(err.metadata?.get('fedstat-code')[0] ?? `grpc ${err.code}`) });
        else resolve({ answer: res! });
      },
    );
  });
}

let ledger: ReleaseLedger;
let decrypted = 0;

async function decryptCase(i: number, given?: DecryptMutant): Promise<void> {
  const k = rand(templates.length);
  const t = templates[k]!;
  const { kind, bytes, resigned } =
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
  let decoded: DecryptRequestMessage;
  try {
    decoded = DECRYPT_REQUEST.decode(bytes);
  } catch {
    log.count(`${kind}: rejected by transport`);
    return;
  }
  const outcome = await call(decoded);
  if ('code' in outcome) {
    log.rejected(
      kind,
      'Decrypt',
      lastError instanceof FedstatError && lastError.code === outcome.code
        ? lastError
        : new FedstatError(outcome.code === 'INTERNAL' ? 'INTERNAL' : 'BAD_MESSAGE', `status ${outcome.code}`, {
            cause: lastError,
          }),
      i,
    );
    return;
  }
  decrypted++;
  if (!resigned) {
    const asGenuine = templates.some(
      (g) =>
        sameBytes(g.signature, decoded.signature) &&
        sameBytes(
          decryptionRequestDigest(f.federation.id, g.query, g.survivors, g.ciphertexts),
          decryptionRequestDigest(
            f.federation.id,
            { bytes: decoded.query, signature: decoded.querySignature },
            { bytes: decoded.survivors, signature: decoded.survivorsSignature },
            decoded.ciphertexts,
          ),
        ),
    );
    if (!asGenuine) log.untyped.push(`case ${i} ${kind}: decrypted a request the coordinator never signed`);
  }
  const problems = ledger.note(decoded, outcome.answer.slots.length);
  if (problems.length > 0)
    log.untyped.push(`case ${i} ${kind}: decrypted against the release policy (${problems.join(', ')})`);
  for (const s of outcome.answer.slots) bytesToSlots(s, f.params.slotCount, f.params.plainModulus); // well-formed slot vectors
  log.count(`${kind}: decrypted${resigned ? '' : ' (decodes to a genuine request)'}`);
}

describe('key-authority-side wire fuzz', () => {
  it(`${CASES} decryption requests: typed statuses, the release policy holds, exact afterwards, flat RSS`, async () => {
    log.start();
    const largest = largestMutants(f, templates[0]!);
    for (const [i, m] of largest.entries()) await decryptCase(i - largest.length, m);
    for (let i = 0; i < CASES; i++) {
      log.tick(i, CASES, WARMUP);
      await decryptCase(i);
    }
    console.log(
      log.report(CASES + largest.length, [`  decrypted: ${decrypted}; releases recorded: ${ka.releases().length}`]),
    );

    expect(log.untyped).toEqual([]);
    expect(log.total()).toBe(CASES + largest.length);
    expect(ka.releases().length).toBe(decrypted);
    expect(new Set(ka.releases().map((r) => r.queryId)).size).toBe(decrypted);
    // Re-signed requests reached SEAL (one agency's contribution is a sound ciphertext: always decrypted).
    expect(log.total('re-signed ct-of-one-agency: decrypted')).toBeGreaterThan(0);
    expect(log.rssGrowth()).toBeLessThan(MAX_RSS_GROWTH_BYTES);

    // Still serving: a genuine request for a new round decrypts, through the same handler, to the exact rows.
    const round = await f.genuineRound(f.issue());
    const outcome = await call(toWire(f.decryptionRequest(round)));
    expect('answer' in outcome ? outcome.answer.slots.length : outcome.code).toBe(1);
    if ('answer' in outcome) {
      const slots = outcome.answer.slots.map((s) => bytesToSlots(s, f.params.slotCount, f.params.plainModulus));
      expect(f.rowsOf(round.query, slots)).toEqual(f.expectedRows());
    }
    // And the whole federation through it, with a real coordinator.
    await using coordinator = await f.coordinator(ka);
    expect((await coordinator.query(SQL)).rows).toEqual(f.expectedRows());
  }, 120_000);
});
