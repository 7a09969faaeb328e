import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FedstatError } from '../../src/errors.js';
import {
  caCertificatePath,
  loadFederation,
  parseFederation,
  readCaCertificate,
  type Federation,
} from '../../src/federation/federation.js';
import { initFederation } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { issuePartyCertificate } from '../../src/tls/certificate.js';
import { createTlsTestFederation, TLS_TEST_SCHEMA, type TlsTestFederation } from '../tls/tls-federation.js';
import { fedstatErrorOf as errorOf } from '../helpers/fedstat-error.js';

interface KeyDoc {
  party: string;
  signingSeed: string;
  tlsCertificate?: string;
  tlsPrivateKey?: string;
}

describe('the federation CA and party certificates written by init', () => {
  let fed: TlsTestFederation;
  let other: TlsTestFederation;
  let federation: Federation;
  let n = 0;
  const keyDoc = (party: string, from = fed): KeyDoc =>
    JSON.parse(readFileSync(from.keyFiles[party]!, 'utf8')) as KeyDoc;
  /** Writes a modified key file (0600) and returns its path. */
  const keyFileWith = (doc: KeyDoc): string => {
    const path = join(fed.dir, `edited-${n++}.key`);
    writeFileSync(path, JSON.stringify(doc));
    chmodSync(path, 0o600);
    return path;
  };

  beforeAll(async () => {
    fed = await createTlsTestFederation();
    other = await createTlsTestFederation();
    federation = fed.federation;
  });
  afterAll(() => {
    fed.close();
    other.close();
  });

  it('writes ca.crt beside federation.json with its hash in the "tls" section', () => {
    const doc = JSON.parse(readFileSync(fed.federationFile, 'utf8')) as { tls: { caFile: string; caSha256: string } };
    expect(doc.tls.caFile).toBe('ca.crt');
    expect(fed.caCertificateFile).toBe(join(fed.dir, 'fed', 'ca.crt'));
    expect(caCertificatePath(federation)).toBe(fed.caCertificateFile);
    expect(doc.tls.caSha256).toBe(createHash('sha256').update(readFileSync(fed.caCertificateFile)).digest('hex'));
    expect(federation.tls).toEqual(doc.tls);
    const ca = new X509Certificate(readCaCertificate(federation));
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe('CN=fedstat CA fedstat-federation');
  });

  it('keeps the CA private key in keys/ca.key (0600) and nowhere else', () => {
    expect(fed.caKeyFile).toBe(join(fed.dir, 'fed', 'keys', 'ca.key'));
    expect(statSync(fed.caKeyFile).mode & 0o777).toBe(0o600);
    const caKeyPem = readFileSync(fed.caKeyFile, 'utf8');
    expect(new X509Certificate(readFileSync(fed.caCertificateFile)).checkPrivateKey(createPrivateKey(caKeyPem))).toBe(
      true,
    );
    const body = caKeyPem.split('\n')[1]!;
    expect(readFileSync(fed.federationFile, 'utf8')).not.toContain(body);
    for (const f of Object.values(fed.keyFiles)) expect(readFileSync(f, 'utf8')).not.toContain(body);
  });

  it('gives every party a certificate for its id, loopback and its endpoint host, in its key file', () => {
    const caCert = new X509Certificate(readCaCertificate(federation));
    for (const [party, file] of Object.entries(fed.keyFiles)) {
      const doc = keyDoc(party);
      expect(doc.tlsCertificate).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
      expect(doc.tlsPrivateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      const secrets = loadKeyFile(file, federation);
      const cert = new X509Certificate(secrets.tls!.certificatePem);
      expect(cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.checkHost(party, { subject: 'never' })).toBe(party);
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(cert.checkPrivateKey(createPrivateKey(secrets.tls!.privateKeyPem))).toBe(true);
      expect(readFileSync(fed.federationFile, 'utf8')).not.toContain(doc.tlsPrivateKey!.split('\n')[1]);
    }
    expect(new X509Certificate(keyDoc('a2').tlsCertificate!).checkHost('agency-two.example.org')).toBe(
      'agency-two.example.org',
    );
    expect(new X509Certificate(keyDoc('coordinator').tlsCertificate!).subjectAltName).toBe(
      'DNS:coordinator, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
  });

  it('still loads a federation file and key files from before mTLS', () => {
    const doc = JSON.parse(readFileSync(fed.federationFile, 'utf8')) as Record<string, unknown>;
    delete doc['tls'];
    const old = parseFederation(doc, fed.federationFile);
    expect(old.tls).toBeNull();
    expect(old.id).not.toBe(federation.id); // the CA is part of what the federation id binds
    expect(() => caCertificatePath(old)).toThrow(/no "tls" section/);
    expect(loadKeyFile(fed.keyFiles['a1']!, old).tls).toBeNull();
    const { tlsCertificate: _c, tlsPrivateKey: _k, ...bare } = keyDoc('a1');
    expect(loadKeyFile(keyFileWith(bare), federation).tls).toBeNull();
  });

  it('refuses a malformed "tls" section, naming the path', () => {
    const doc = JSON.parse(readFileSync(fed.federationFile, 'utf8')) as Record<string, unknown>;
    doc['tls'] = { caFile: 'ca.crt', caSha256: 'not-hex' };
    const e = errorOf(() => parseFederation(doc, 'f.json'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/f\.json: tls: "tls" needs "caFile" and a hex "caSha256"/);
  });

  it('detects a CA certificate swapped on disk', () => {
    const copy = join(fed.dir, 'swapped');
    cpSync(join(fed.dir, 'fed'), copy, { recursive: true });
    writeFileSync(join(copy, 'ca.crt'), readFileSync(other.caCertificateFile));
    const swapped = loadFederation(join(copy, 'federation.json'));
    const e = errorOf(() => readCaCertificate(swapped));
    expect(e.code).toBe('KEY_INVALID');
    expect(e.message).toMatch(/does not match the hash in .*federation\.json; copy the ca\.crt/);
    expect(errorOf(() => loadKeyFile(join(copy, 'keys', 'a1.key'), swapped)).message).toMatch(
      /does not match the hash/,
    );
  });

  it('refuses a key file whose certificate another CA issued', () => {
    const doc = {
      ...keyDoc('a1'),
      tlsCertificate: keyDoc('a1', other).tlsCertificate!,
      tlsPrivateKey: keyDoc('a1', other).tlsPrivateKey!,
    };
    const e = errorOf(() => loadKeyFile(keyFileWith(doc), federation));
    expect(e.code).toBe('KEY_INVALID');
    expect(e.message).toMatch(/its TLS certificate was not issued by the federation CA/);
  });

  it("refuses a key file holding another party's certificate", () => {
    const doc = {
      ...keyDoc('a1'),
      tlsCertificate: keyDoc('a2').tlsCertificate!,
      tlsPrivateKey: keyDoc('a2').tlsPrivateKey!,
    };
    expect(errorOf(() => loadKeyFile(keyFileWith(doc), federation)).message).toMatch(
      /its TLS certificate names "a2", not party a1/,
    );
  });

  it('refuses a private key that does not match the certificate', () => {
    const doc = { ...keyDoc('a1'), tlsPrivateKey: keyDoc('a2').tlsPrivateKey! };
    expect(errorOf(() => loadKeyFile(keyFileWith(doc), federation)).message).toMatch(
      /its TLS private key does not match its TLS certificate/,
    );
  });

  it('refuses expired certificates and half-present or unparsable TLS fields', () => {
    const ca = { certificatePem: readCaCertificate(federation), privateKeyPem: readFileSync(fed.caKeyFile, 'utf8') };
    const expired = issuePartyCertificate(ca, {
      partyId: 'a1',
      role: 'agency',
      hosts: [],
      validDays: 1,
      now: new Date(Date.now() - 3 * 86_400_000),
    });
    const expiredDoc = {
      ...keyDoc('a1'),
      tlsCertificate: expired.certificatePem,
      tlsPrivateKey: expired.privateKeyPem,
    };
    expect(errorOf(() => loadKeyFile(keyFileWith(expiredDoc), federation)).message).toMatch(
      /its TLS certificate expired on \d{4}-\d\d-\d\d/,
    );
    const { tlsPrivateKey: _k, ...half } = keyDoc('a1');
    expect(errorOf(() => loadKeyFile(keyFileWith(half), federation)).message).toMatch(
      /"tlsCertificate" and "tlsPrivateKey" must both be PEM text/,
    );
    const garbled = {
      ...keyDoc('a1'),
      tlsCertificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    };
    const e = errorOf(() => loadKeyFile(keyFileWith(garbled), federation));
    expect(e.code).toBe('KEY_INVALID');
    expect(e.message).toMatch(/its TLS certificate does not parse/);
    expect(e.message).not.toContain(keyDoc('a1').tlsPrivateKey!.split('\n')[1]);
  });

  it('refuses agency ids that cannot name a certificate or clash with keys/ca.key, and endpoints named after another party', async () => {
    const out = join(fed.dir, 'refused');
    const attempt = (agencies: { id: string; endpoint: string }[]): Promise<unknown> =>
      initFederation({ outDir: out, schema: TLS_TEST_SCHEMA, agencies, policy: { minAgencies: 1 } }).then(
        () => null,
        (e: unknown) => e,
      );
    expect(((await attempt([{ id: 'ca', endpoint: '127.0.0.1:1' }])) as FedstatError).message).toMatch(
      /agency id ca is reserved/,
    );
    expect(((await attempt([{ id: 'a-', endpoint: '127.0.0.1:1' }])) as FedstatError).message).toMatch(
      /must be a DNS label/,
    );
    const clash = (await attempt([
      { id: 'a1', endpoint: 'a2:7301' },
      { id: 'a2', endpoint: '127.0.0.1:7302' },
    ])) as FedstatError;
    expect(clash.code).toBe('CONFIG_INVALID');
    expect(clash.message).toMatch(/endpoint host of a1 is the id of party a2/);
    expect(existsSync(join(out, 'federation.json'))).toBe(false);
  });
});
