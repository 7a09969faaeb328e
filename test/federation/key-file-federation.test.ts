/**
 * A key file is bound to its federation by the party's public keys in the federation file and by
 * the certificate the federation CA issued it. One from another federation is a key problem
 * (KEY_INVALID, exit 3) that says so, never "no party a1" (NOT_FOUND, exit 4); one that fits the
 * CA but not the file says the federation file was edited.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFederation } from '../../src/federation/federation.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { fedstatErrorOf as errorOf } from '../helpers/fedstat-error.js';
import { createTlsTestFederation, type TlsTestFederation } from '../tls/tls-federation.js';

interface PartyDoc {
  id: string;
  signingKey: string;
}

describe('key files of another federation', () => {
  let fed: TlsTestFederation;
  /** Same ids as `fed`, another init. */
  let twin: TlsTestFederation;
  /** Other ids. */
  let other: TlsTestFederation;
  beforeAll(async () => {
    [fed, twin, other] = await Promise.all([
      createTlsTestFederation(),
      createTlsTestFederation(),
      createTlsTestFederation([
        { id: 'b1', endpoint: '127.0.0.1:7401' },
        { id: 'b2', endpoint: '127.0.0.1:7402' },
      ]),
    ]);
  });
  afterAll(() => {
    for (const f of [fed, twin, other]) f.close();
  });
  const federationDoc = (): { parties: PartyDoc[] } & Record<string, unknown> =>
    JSON.parse(readFileSync(fed.federationFile, 'utf8')) as { parties: PartyDoc[] };

  it('an agency key of a federation that has no such party: KEY_INVALID, not NOT_FOUND', () => {
    const e = errorOf(() => loadKeyFile(other.keyFiles['b1']!, fed.federation));
    expect(e.code).toBe('KEY_INVALID');
    expect(e.message).toBe(
      `key file ${other.keyFiles['b1']!}: it belongs to another federation: its TLS certificate was not issued by the federation CA (ca.crt); use the key file fedstat init wrote together with ${fed.federationFile}`,
    );
  });

  it('a key of the same party id in another federation', () => {
    for (const party of ['a1', 'coordinator', 'key-authority']) {
      const e = errorOf(() => loadKeyFile(twin.keyFiles[party]!, fed.federation));
      expect(e.code).toBe('KEY_INVALID');
      expect(e.message, party).toMatch(/it belongs to another federation/);
    }
  });

  it('a key file without TLS fields for a party the federation does not list', () => {
    const doc = JSON.parse(readFileSync(other.keyFiles['b1']!, 'utf8')) as Record<string, unknown>;
    delete doc['tlsCertificate'];
    delete doc['tlsPrivateKey'];
    const path = join(fed.dir, 'bare-b1.key');
    writeFileSync(path, JSON.stringify(doc));
    chmodSync(path, 0o600);
    const e = errorOf(() => loadKeyFile(path, fed.federation));
    expect(e.code).toBe('KEY_INVALID');
    expect(e.message).toMatch(
      /it is for party "b1", which .*federation\.json does not list \(parties: coordinator, key-authority, a1, a2\): it belongs to another federation; use the key file/,
    );
  });

  it('a federation file edited to drop the party: the file was edited', () => {
    const doc = federationDoc();
    doc.parties = doc.parties.filter((p) => p.id !== 'a2');
    const edited = parseFederation(doc, fed.federationFile);
    const e = errorOf(() => loadKeyFile(fed.keyFiles['a2']!, edited));
    expect(e.code).toBe('KEY_INVALID');
    expect(e.message).toMatch(
      /it is for party "a2", which .* does not list .* though this federation's CA issued its certificate; the federation file was edited: restore the federation\.json fedstat init wrote$/,
    );
  });

  it("a federation file edited to swap a party's key: one of the files was edited", () => {
    const doc = federationDoc();
    const a1 = doc.parties.find((p) => p.id === 'a1')!;
    a1.signingKey = doc.parties.find((p) => p.id === 'a2')!.signingKey;
    const e = errorOf(() => loadKeyFile(fed.keyFiles['a1']!, parseFederation(doc, fed.federationFile)));
    expect(e.code).toBe('KEY_INVALID');
    expect(e.message).toMatch(
      /its keys do not match party a1 in .*; its certificate is from this federation's CA, so one of the two files was edited/,
    );
  });

  it('still loads its own key files', () => {
    for (const [party, file] of Object.entries(fed.keyFiles))
      expect(loadKeyFile(file, fed.federation).party).toBe(party);
  });
});
