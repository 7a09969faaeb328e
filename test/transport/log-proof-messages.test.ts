/**
 * The transparency-log wire messages: a LogProof survives the real protobuf encoding of the
 * Aggregate and Decrypt requests (uint64 fields come back as decimal strings, bytes as Buffers),
 * and every malformed shape, count or size is refused with BAD_MESSAGE before any hash or
 * signature is looked at. Reported heads: empty is none, anything else must parse.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signingKeyPairFromSeed, verify } from '../../src/crypto/ed25519.js';
import type { FedstatError } from '../../src/errors.js';
import { MAX_QUERY_BYTES } from '../../src/protocol/query-envelope.js';
import { encodeSignedTreeHead, encodeTreeHead, signTreeHead, type SignedTreeHead } from '../../src/merkle/tree-head.js';
import type { QueryLogProof } from '../../src/transparency/query-log-proof.js';
import {
  logHeadFromWire,
  logHeadToWire,
  logProofFromWire,
  logProofToWire,
  MAX_LOG_PROOF_BYTES,
} from '../../src/transport/log-proof-messages.js';
import {
  agencyServiceDefinition,
  keyAuthorityServiceDefinition,
  type LogProofMessage,
} from '../../src/transport/proto.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

const operator = signingKeyPairFromSeed(new Uint8Array(32).fill(7));
const head: SignedTreeHead = signTreeHead(
  { logId: 'federation-0123', size: 2 ** 46 + 5, rootHash: randomBytes(32), timestamp: 1_800_000_000_123 },
  operator.secretKey,
);
const hashes = (n: number, len = 32): Uint8Array[] => Array.from({ length: n }, () => new Uint8Array(randomBytes(len)));

const proof: QueryLogProof = Object.freeze({
  treeHead: head,
  entry: new Uint8Array(randomBytes(700)),
  index: 2 ** 40 + 3,
  inclusion: hashes(47),
  from: 2 ** 45 + 1,
  consistency: hashes(12),
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const headHex = (h: SignedTreeHead): string => hex(encodeSignedTreeHead(h));

function expectSameProof(got: QueryLogProof | undefined, want: QueryLogProof): void {
  expect(got).toBeDefined();
  const g = got!;
  expect(headHex(g.treeHead)).toBe(headHex(want.treeHead));
  expect(g.treeHead.logId).toBe(want.treeHead.logId);
  expect(g.treeHead.size).toBe(want.treeHead.size);
  expect(g.treeHead.timestamp).toBe(want.treeHead.timestamp);
  expect(hex(g.entry)).toBe(hex(want.entry));
  expect(g.index).toBe(want.index);
  expect(g.from).toBe(want.from);
  expect(g.inclusion.map(hex)).toEqual(want.inclusion.map(hex));
  expect(g.consistency.map(hex)).toEqual(want.consistency.map(hex));
  // The signature still verifies over the re-encoded head: nothing was lost on the way.
  expect(verify(encodeTreeHead(g.treeHead), g.treeHead.signature, operator.publicKey)).toBe(true);
}

/** A wire message as protobufjs delivers it (`longs: String`), with `change` applied. */
const wire = (change: Partial<Record<keyof LogProofMessage, unknown>> = {}): LogProofMessage =>
  ({
    ...logProofToWire(proof),
    index: String(proof.index),
    fromSize: String(proof.from),
    ...change,
  }) as LogProofMessage;

const refusal = (m: LogProofMessage): FedstatError => fedstatErrorOf(() => logProofFromWire(m, 'coordinator c1'));

describe('LogProof on the wire', () => {
  it('round-trips through the Aggregate and Decrypt requests of the real service definitions', () => {
    const agency = agencyServiceDefinition()['Aggregate']!;
    const ka = keyAuthorityServiceDefinition()['Decrypt']!;
    const request = {
      query: new Uint8Array([1, 2, 3]),
      signature: new Uint8Array(64),
      logProof: logProofToWire(proof),
    };
    const viaAgency = agency.requestDeserialize(agency.requestSerialize(request)) as {
      logProof: LogProofMessage | null;
    };
    const viaKa = ka.requestDeserialize(
      ka.requestSerialize({
        ciphertexts: [new Uint8Array([9])],
        signature: new Uint8Array(64),
        logProof: logProofToWire(proof),
      }),
    ) as { logProof: LogProofMessage | null };
    for (const decoded of [viaAgency, viaKa]) {
      // protobufjs with longs: String delivers uint64 as decimal strings.
      expect(decoded.logProof?.index).toBe(String(2 ** 40 + 3));
      expect(decoded.logProof?.fromSize).toBe(String(2 ** 45 + 1));
      expectSameProof(logProofFromWire(decoded.logProof, 'coordinator'), proof);
    }
    // Without a proof the field decodes as null: no proof.
    const none = agency.requestDeserialize(
      agency.requestSerialize({ query: new Uint8Array([1]), signature: new Uint8Array(64) }),
    ) as { logProof: LogProofMessage | null };
    expect(none.logProof).toBeNull();
    expect(logProofFromWire(none.logProof, 'coordinator')).toBeUndefined();
    // Empty paths and index 0 survive too (proto3 drops zero and empty fields).
    const small: QueryLogProof = { ...proof, index: 0, from: 0, inclusion: [], consistency: [] };
    const smallDecoded = agency.requestDeserialize(
      agency.requestSerialize({ ...request, logProof: logProofToWire(small) }),
    ) as { logProof: LogProofMessage | null };
    expectSameProof(logProofFromWire(smallDecoded.logProof, 'coordinator'), small);
  });

  it('round-trips through the message object with decimal-string or number counts, and copies the bytes', () => {
    expectSameProof(logProofFromWire(logProofToWire(proof), 'coordinator'), proof);
    // (logProofToWire shares the proof's buffers; the received message owns its own.)
    const m = structuredClone(wire());
    const decoded = logProofFromWire(m, 'coordinator')!;
    expectSameProof(decoded, proof);
    // Overwriting the received buffers afterwards does not change the decoded proof.
    m.treeHead.fill(0);
    m.entry.fill(0);
    for (const h of [...m.inclusion, ...m.consistency]) h.fill(0);
    expectSameProof(decoded, proof);
    // The largest safe index and a full-height path (64 hashes) are accepted.
    const big = logProofFromWire(
      wire({ index: String(Number.MAX_SAFE_INTEGER), inclusion: hashes(64), consistency: hashes(64) }),
      'c',
    );
    expect(big?.index).toBe(Number.MAX_SAFE_INTEGER);
    expect(big?.inclusion).toHaveLength(64);
    // An entry as large as a signed query is accepted.
    expect(logProofFromWire(wire({ entry: new Uint8Array(MAX_QUERY_BYTES) }), 'c')?.entry).toHaveLength(
      MAX_QUERY_BYTES,
    );
  });

  it('bounds the encoded size of the largest acceptable proof by MAX_LOG_PROOF_BYTES', () => {
    const agency = agencyServiceDefinition()['Aggregate']!;
    const longest = signTreeHead(
      { ...head, logId: 'f'.repeat(256), size: Number.MAX_SAFE_INTEGER, timestamp: Number.MAX_SAFE_INTEGER },
      operator.secretKey,
    );
    const largest: QueryLogProof = {
      treeHead: longest,
      entry: new Uint8Array(MAX_QUERY_BYTES).fill(0xff),
      index: Number.MAX_SAFE_INTEGER,
      inclusion: hashes(64),
      from: Number.MAX_SAFE_INTEGER,
      consistency: hashes(64),
    };
    const encoded = agency.requestSerialize({ logProof: logProofToWire(largest) });
    expect(encoded.length).toBeLessThanOrEqual(MAX_LOG_PROOF_BYTES);
    const decoded = agency.requestDeserialize(encoded) as { logProof: LogProofMessage | null };
    expectSameProof(logProofFromWire(decoded.logProof, 'c'), largest);
  });

  it('is absent for null or undefined', () => {
    expect(logProofFromWire(null, 'c')).toBeUndefined();
    expect(logProofFromWire(undefined, 'c')).toBeUndefined();
  });

  it('refuses a missing or malformed tree head', () => {
    const bytes = encodeSignedTreeHead(head);
    const badHeads: [string, unknown][] = [
      ['missing', undefined],
      ['null', null],
      ['empty (proto3 default)', new Uint8Array(0)],
      ['a string', 'tree head'],
      ['a number array', Array.from(bytes)],
      ['one byte short', bytes.subarray(0, bytes.length - 1)],
      ['one byte more', Uint8Array.of(...bytes, 0)],
      ['no signature', bytes.subarray(0, bytes.length - 64)],
      ['other domain tag', Uint8Array.from(bytes, (b, i) => (i === 0 ? b ^ 1 : b))],
      ['random bytes', new Uint8Array(randomBytes(bytes.length))],
    ];
    for (const [name, treeHead] of badHeads) {
      const e = refusal(wire({ treeHead }));
      expect(e.code, name).toBe('BAD_MESSAGE');
      expect(e.message, name).toContain('coordinator c1');
    }
  });

  it('refuses an empty, oversized or non-byte entry', () => {
    for (const [name, entry] of [
      ['empty', new Uint8Array(0)],
      ['larger than a query', new Uint8Array(MAX_QUERY_BYTES + 1)],
      ['larger than a whole proof', new Uint8Array(MAX_LOG_PROOF_BYTES + 1)],
      ['missing', undefined],
      ['a string', 'entry'],
    ] as [string, unknown][]) {
      expect(refusal(wire({ entry })).code, name).toBe('BAD_MESSAGE');
    }
  });

  it('refuses paths that are too long, hold hashes of the wrong size, or are not arrays of bytes', () => {
    const badPaths: [string, unknown][] = [
      ['65 hashes', hashes(65)],
      ['a 31-byte hash', [...hashes(3), ...hashes(1, 31)]],
      ['a 33-byte hash', [...hashes(1, 33), ...hashes(2)]],
      ['an empty hash', [new Uint8Array(0)]],
      ['a hex string', [hex(hashes(1)[0]!)]],
      ['not an array', hashes(1)[0]],
      ['missing', undefined],
    ];
    for (const [name, path] of badPaths) {
      expect(refusal(wire({ inclusion: path })).code, `inclusion: ${name}`).toBe('BAD_MESSAGE');
      expect(refusal(wire({ consistency: path })).code, `consistency: ${name}`).toBe('BAD_MESSAGE');
    }
  });

  it('refuses an index or starting size that is negative, fractional, beyond 2^53 − 1 or not a number', () => {
    const badCounts: unknown[] = [
      '-1',
      '1.5',
      '1e3',
      '0x10',
      ' 1',
      '',
      '9007199254740992',
      '18446744073709551615',
      '99999999999999999999',
      -1,
      1.5,
      2 ** 53,
      Number.NaN,
      Infinity,
      null,
      undefined,
      3n,
    ];
    for (const v of badCounts) {
      expect(refusal(wire({ index: v })).code, `index ${String(v)}`).toBe('BAD_MESSAGE');
      expect(refusal(wire({ fromSize: v })).code, `fromSize ${String(v)}`).toBe('BAD_MESSAGE');
    }
    // Their neighbours inside the range are accepted.
    expect(logProofFromWire(wire({ index: '9007199254740991', fromSize: '0' }), 'c')).toMatchObject({
      index: 2 ** 53 - 1,
      from: 0,
    });
    expect(logProofFromWire(wire({ index: 7, fromSize: 1 }), 'c')).toMatchObject({ index: 7, from: 1 });
  });
});

describe('reported log heads on the wire', () => {
  it('treats empty or absent bytes as no head', () => {
    expect(logHeadToWire(null)).toHaveLength(0);
    expect(logHeadFromWire(logHeadToWire(null), 'a1')).toBeNull();
    expect(logHeadFromWire(new Uint8Array(0), 'a1')).toBeNull();
    expect(logHeadFromWire(Buffer.alloc(0), 'a1')).toBeNull();
    expect(logHeadFromWire(undefined, 'a1')).toBeNull();
    expect(logHeadFromWire(null, 'a1')).toBeNull();
  });

  it('round-trips a signed head', () => {
    const bytes = logHeadToWire(head);
    expect(hex(bytes)).toBe(headHex(head));
    const back = logHeadFromWire(Buffer.from(bytes), 'a1');
    expect(back).not.toBeNull();
    expect(headHex(back!)).toBe(headHex(head));
    expect(back?.size).toBe(head.size);
    expect(verify(encodeTreeHead(back!), back!.signature, operator.publicKey)).toBe(true);
    // A view into a larger buffer (as protobufjs may hand out) decodes the same.
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 5);
    expect(headHex(logHeadFromWire(padded.subarray(5, 5 + bytes.length), 'a1')!)).toBe(headHex(head));
  });

  it('refuses garbage with BAD_MESSAGE', () => {
    const bytes = logHeadToWire(head);
    for (const [name, v] of [
      ['random', new Uint8Array(randomBytes(40))],
      ['truncated', bytes.subarray(0, bytes.length - 1)],
      ['trailing byte', Uint8Array.of(...bytes, 1)],
      ['a string', 'head'],
      ['a number', 5],
      ['a number array', Array.from(bytes)],
    ] as [string, unknown][]) {
      const e = fedstatErrorOf(() => logHeadFromWire(v, 'a1'));
      expect(e.code, name).toBe('BAD_MESSAGE');
      expect(e.message, name).toContain('a1');
    }
  });
});
