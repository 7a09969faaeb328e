import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { createCertificateAuthority, issuePartyCertificate } from '../../src/tls/certificate.js';
import { readChildren, readElement } from '../../src/tls/der.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const ca = createCertificateAuthority({ commonName: 'test fedstat CA', validDays: 30 });
const caCert = new X509Certificate(ca.certificatePem);
const party = issuePartyCertificate(ca, {
  partyId: 'cd-psb',
  role: 'agency',
  hosts: ['127.0.0.1', 'localhost', '[::1]', 'Agency.Example.org'],
  validDays: 10,
});
const cert = new X509Certificate(party.certificatePem);
const dir = mkdtempSync(join(tmpdir(), 'fedstat-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The extensions of a certificate as (oid text, critical) pairs, read from the DER independently of the writer's helpers. */
function extensionOids(pem: string): { oid: string; critical: boolean }[] {
  const der = new Uint8Array(new X509Certificate(pem).raw);
  const tbs = readChildren(readElement(der, 0).content)[0]!;
  const fields = readChildren(tbs.content);
  const exts = fields.find((f) => f.tag === 0xa3)!;
  const list = readChildren(readChildren(exts.content)[0]!.content);
  return list.map((e) => {
    const [id, second] = readChildren(e.content);
    const bytes = [...id!.content];
    const arcs = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
    let v = 0;
    for (const b of bytes.slice(1)) {
      v = v * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) {
        arcs.push(v);
        v = 0;
      }
    }
    return { oid: arcs.join('.'), critical: second!.tag === 0x01 && second!.content[0] === 0xff };
  });
}

describe('federation CA', () => {
  it('is a self-signed CA that node parses and verifies', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=test fedstat CA');
    expect(caCert.issuer).toBe(caCert.subject);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.checkIssued(caCert)).toBe(true);
    expect(caCert.checkPrivateKey(createPrivateKey(ca.privateKeyPem))).toBe(true);
    expect(caCert.keyUsage).toBeUndefined(); // node reports extKeyUsage here, and a CA has none
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('marks basicConstraints and keyUsage critical and carries a subjectKeyIdentifier', () => {
    expect(extensionOids(ca.certificatePem)).toEqual([
      { oid: '2.5.29.19', critical: true },
      { oid: '2.5.29.15', critical: true },
      { oid: '2.5.29.14', critical: false },
      { oid: '2.5.29.35', critical: false },
    ]);
  });

  it('is valid from an hour ago, in whole seconds, for validDays', () => {
    const now = new Date('2030-06-01T12:00:00.750Z');
    const c = new X509Certificate(createCertificateAuthority({ commonName: 'x', validDays: 7, now }).certificatePem);
    expect(c.validFromDate.toISOString()).toBe('2030-06-01T11:00:00.000Z');
    expect(c.validToDate.toISOString()).toBe('2030-06-08T12:00:00.000Z');
  });

  it('writes GeneralizedTime past 2049, which node reads back', () => {
    const c = new X509Certificate(
      createCertificateAuthority({ commonName: 'x', validDays: 365, now: new Date('2049-12-01T00:00:00Z') })
        .certificatePem,
    );
    expect(c.validFromDate.getUTCFullYear()).toBe(2049);
    expect(c.validToDate.toISOString()).toBe('2050-12-01T00:00:00.000Z');
  });
});

describe('party certificates', () => {
  it('verify under their CA and name the party', () => {
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe('OU=agency\nCN=cd-psb');
    expect(cert.issuer).toBe(caCert.subject);
    expect(cert.checkHost('cd-psb', { subject: 'never' })).toBe('cd-psb');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('agency.example.org')).toBe('agency.example.org');
    expect(cert.checkHost('my-psb')).toBeUndefined();
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkIP('10.0.0.1')).toBeUndefined();
    expect(cert.subjectAltName).toBe(
      'DNS:cd-psb, IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1, DNS:agency.example.org',
    );
    expect(cert.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.checkPrivateKey(createPrivateKey(party.privateKeyPem))).toBe(true);
    expect(cert.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$|^[0-9A-F]{1,31}$/); // positive, at most 16 bytes
  });

  it('carry the extensions RFC 5280 asks for, critical where it says so', () => {
    expect(extensionOids(party.certificatePem)).toEqual([
      { oid: '2.5.29.19', critical: true },
      { oid: '2.5.29.15', critical: true },
      { oid: '2.5.29.37', critical: false },
      { oid: '2.5.29.17', critical: false },
      { oid: '2.5.29.14', critical: false },
      { oid: '2.5.29.35', critical: false },
    ]);
  });

  it('get a fresh key and serial each time', () => {
    const again = new X509Certificate(
      issuePartyCertificate(ca, { partyId: 'cd-psb', role: 'agency', hosts: [], validDays: 10 }).certificatePem,
    );
    expect(again.serialNumber).not.toBe(cert.serialNumber);
    expect(again.publicKey.export({ format: 'jwk' })).not.toEqual(cert.publicKey.export({ format: 'jwk' }));
    expect(again.subjectAltName).toBe('DNS:cd-psb');
  });

  it('never outlive their CA', () => {
    const long = new X509Certificate(
      issuePartyCertificate(ca, { partyId: 'a', role: 'agency', hosts: [], validDays: 3650 }).certificatePem,
    );
    expect(long.validToDate.getTime()).toBe(caCert.validToDate.getTime());
  });

  it('do not verify under another CA', () => {
    const other = createCertificateAuthority({ commonName: 'test fedstat CA', validDays: 30 });
    const otherCert = new X509Certificate(other.certificatePem);
    expect(cert.verify(otherCert.publicKey)).toBe(false);
    expect(cert.checkIssued(otherCert)).toBe(false); // same subject, different key identifier
    const forged = new X509Certificate(
      issuePartyCertificate(other, { partyId: 'cd-psb', role: 'agency', hosts: [], validDays: 1 }).certificatePem,
    );
    expect(forged.verify(caCert.publicKey)).toBe(false);
  });

  it('refuse party ids that are not DNS labels and hosts that are not names or addresses', () => {
    for (const partyId of ['Cd-psb', 'cd-', '-cd', 'a.b', 'x'.repeat(64), '']) {
      const e = (() => {
        try {
          issuePartyCertificate(ca, { partyId, role: 'agency', hosts: [], validDays: 1 });
        } catch (err) {
          return err;
        }
        return null;
      })();
      expect(e).toBeInstanceOf(FedstatError);
      expect((e as FedstatError).code).toBe('CONFIG_INVALID');
    }
    for (const host of ['*.example.org', 'a_b', 'fe80::1%eth0', 'exa mple']) {
      expect(() => issuePartyCertificate(ca, { partyId: 'a', role: 'agency', hosts: [host], validDays: 1 })).toThrow(
        /neither an IP address nor a DNS name/,
      );
    }
  });

  it('refuse a CA key that does not belong to the CA certificate', () => {
    const other = createCertificateAuthority({ commonName: 'o', validDays: 1 });
    expect(() =>
      issuePartyCertificate(
        { certificatePem: ca.certificatePem, privateKeyPem: other.privateKeyPem },
        { partyId: 'a', role: 'agency', hosts: [], validDays: 1 },
      ),
    ).toThrow(/CA key does not belong/);
    expect(() =>
      issuePartyCertificate(
        { certificatePem: party.certificatePem, privateKeyPem: party.privateKeyPem },
        { partyId: 'a', role: 'agency', hosts: [], validDays: 1 },
      ),
    ).toThrow(/CA key does not belong/);
  });

  it('have a key pair whose public half is the certificate key', () => {
    const pub = createPublicKey(party.privateKeyPem).export({ type: 'spki', format: 'der' });
    expect(Buffer.compare(pub, cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(0);
  });
});

describe('openssl agrees', () => {
  // Only this cross-check needs the binary; node's own parser checks above always run.
  it.skipIf(!hasOpenssl())('parses, prints and verifies the chain strictly for TLS server and client use', () => {
    const caFile = join(dir, 'ca.crt');
    const partyFile = join(dir, 'party.crt');
    writeFileSync(caFile, ca.certificatePem);
    writeFileSync(partyFile, party.certificatePem);
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', partyFile], { encoding: 'utf8' });
    expect(text).toMatch(/Version: 3 \(0x2\)/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature/);
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(
      /DNS:cd-psb, IP Address:127\.0\.0\.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1, DNS:agency\.example\.org/,
    );
    const caText = execFileSync('openssl', ['x509', '-noout', '-text', '-in', caFile], { encoding: 'utf8' });
    expect(caText).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(caText).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    for (const purpose of ['sslserver', 'sslclient']) {
      const out = execFileSync(
        'openssl',
        ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', caFile, partyFile],
        { encoding: 'utf8' },
      );
      expect(out.trim()).toBe(`${partyFile}: OK`);
    }
  });
});
