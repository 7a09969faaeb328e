/**
 * The key authority decrypts only a query the transparency log shows: in a federation that
 * requires the log, a request without the query's inclusion proof, or with a proof of another
 * query, is refused (signed refusal entry attached, query not burnt); with the proof it decrypts
 * exactly, returns its own signed decryption entry and holds the head; a proof from a head it no
 * longer holds is STALE_HEAD and, rebuilt, goes through.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/digest.js';
import { isFedstatError, type FedstatError } from '../../src/errors.js';
import type { Federation } from '../../src/federation/federation.js';
import type { PartySecrets } from '../../src/federation/key-file.js';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import { queryDigest, type SignedQuery } from '../../src/protocol/query-envelope.js';
import { entryFromEvent, openEntry } from '../../src/transparency/log-entry.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { buildQueryLogProof } from '../../src/transparency/query-log-proof.js';
import { createKaFixture, NOW, plainSum, randomSlots, type KaFixture } from './fixture.js';

let f: KaFixture;
let logged: Federation;
let dir: string;
let store: TransparencyLogStore;
const SURVIVORS = ['a1', 'a2', 'a3'];

beforeAll(async () => {
  f = await createKaFixture({ agencies: 3, minAgencies: 2 });
  logged = Object.freeze({ ...f.federation, policy: Object.freeze({ ...f.federation.policy, transparencyLog: true }) });
  dir = mkdtempSync(join(tmpdir(), 'fedstat-ka-log-'));
  store = await TransparencyLogStore.open(join(dir, 'log'), {
    logId: f.federation.id,
    secretKey: (f.secrets['coordinator'] as PartySecrets).signing.secretKey,
  });
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  f[Symbol.dispose]();
});

const coordinatorKey = (): Uint8Array => (f.secrets['coordinator'] as PartySecrets).signing.secretKey;

/** Logs `query` as the coordinator would (plus `padding` unrelated entries after it); its entry and index. */
async function logQuery(query: SignedQuery, padding = 0): Promise<{ entry: Uint8Array; index: number }> {
  const env = JSON.parse(new TextDecoder().decode(query.bytes)) as { queryId: string; agencies: string[] };
  const entry = entryFromEvent(
    {
      type: 'query',
      at: NOW,
      queryId: env.queryId,
      digest: toHex(queryDigest(query.bytes)),
      sql: 'SELECT COUNT(*) FROM residents',
      plan: { dataset: 'residents' },
      agencies: env.agencies,
    },
    'coordinator',
    coordinatorKey(),
  );
  const { index } = await store.append(entry);
  for (let i = 0; i < padding; i++) await store.append(new TextEncoder().encode(`other ${index} ${i}`));
  return { entry, index };
}

function request(query: SignedQuery) {
  const vs = SURVIVORS.map(() => randomSlots(f.params.slotCount));
  return {
    request: f.request(query, f.survivorSet(query, SURVIVORS), [f.encryptedSum(vs)]),
    expected: plainSum(vs, f.params.slotCount, f.params.plainModulus),
  };
}

async function failure(p: Promise<unknown>): Promise<FedstatError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(isFedstatError(e), String(e)).toBe(true);
  return e as FedstatError;
}

describe('the key authority and the transparency log', () => {
  it('refuses a query without its proof (signed refusal attached) and decrypts it once the proof comes', async () => {
    await using ka = await keyAuthority();
    const query = f.query({ threshold: 2 });
    const { request: req, expected } = request(query);
    const refused = await failure(ka.decrypt(req));
    expect(refused.code).toBe('POLICY_REFUSED');
    expect(refused.message).toMatch(/without a log proof/);
    const entry = refused.details['logEntry'] as Uint8Array;
    const { event, author } = openEntry(entry, logged);
    expect(author.id).toBe('key-authority');
    expect(event).toMatchObject({ type: 'refusal', agencyId: 'key-authority' });

    // The refusal did not spend the query: with its proof, it is decrypted exactly.
    const { entry: qEntry, index } = await logQuery(query);
    const answer = await ka.decrypt({
      ...req,
      logProof: buildQueryLogProof(store, index, qEntry, 0, 'the key authority'),
    });
    expect([...answer.slots[0]!]).toEqual([...expected]);
    expect(answer.logEntries).toHaveLength(1);
    const decryption = openEntry(answer.logEntries![0]!, logged);
    expect(decryption.author.id).toBe('key-authority');
    expect(decryption.event).toMatchObject({ type: 'decryption', contributors: SURVIVORS, dropped: [] });
    expect((await ka.describe()).logHead?.size).toBe(store.size);
  });

  it('refuses a proof of another query, and a stale proof until it is rebuilt from the head it holds', async () => {
    await using ka = await keyAuthority();
    const first = f.query({ threshold: 2 });
    const logFirst = await logQuery(first, 2);
    await ka.decrypt({
      ...request(first).request,
      logProof: buildQueryLogProof(store, logFirst.index, logFirst.entry, 0, 'ka'),
    });
    const held = (await ka.describe()).logHead!.size;

    const second = f.query({ threshold: 2 });
    const { request: req, expected } = request(second);
    const logSecond = await logQuery(second);
    // The first query's proof sent with the second query's request.
    const wrong = await failure(
      ka.decrypt({ ...req, logProof: buildQueryLogProof(store, logFirst.index, logFirst.entry, held, 'ka') }),
    );
    expect(wrong.code).toBe('BAD_MESSAGE');
    expect(wrong.message).toMatch(/not the query/);
    // A proof built from the empty log while the key authority holds a head: stale, nothing spent.
    const stale = await failure(
      ka.decrypt({ ...req, logProof: buildQueryLogProof(store, logSecond.index, logSecond.entry, 0, 'ka') }),
    );
    expect(stale.code).toBe('STALE_HEAD');
    const answer = await ka.decrypt({
      ...req,
      logProof: buildQueryLogProof(store, logSecond.index, logSecond.entry, held, 'ka'),
    });
    expect([...answer.slots[0]!]).toEqual([...expected]);
    expect((await ka.describe()).logHead?.size).toBe(store.size);
  });
});

async function keyAuthority(): Promise<InProcessKeyAuthority & AsyncDisposable> {
  const ka = await InProcessKeyAuthority.create({
    federation: logged,
    secrets: f.secrets['key-authority'] as PartySecrets,
    params: f.params,
    clock: () => NOW,
  });
  return Object.assign(ka, { [Symbol.asyncDispose]: () => ka.close() });
}
