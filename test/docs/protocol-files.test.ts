/**
 * docs/protocol.md, "Files", is what an independent implementer reads to load fedstat's key files
 * and certificates, and its "Services" section names the .proto include root. These tests hold
 * the docs to what `initFederation` writes: every key-file field documented (and no other), its
 * encoding and mode, `caSha256` as the SHA-256 of ca.crt's PEM bytes, party certificate subjects
 * `OU=<role>, CN=<party id>` with the party id first among the DNS names; and every proto import
 * resolving from the include root `proto/`.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initFederation, type InitResult } from '../../src/federation/init.js';
import { parseSchema } from '../../src/federation/schema.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const protocolMd = readFileSync(join(root, 'docs', 'protocol.md'), 'utf8');
const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The "Files" section of docs/protocol.md. */
function filesSection(): string {
  const start = protocolMd.indexOf("\n## Files: the federation file's pins, key files and certificates\n");
  expect(start).toBeGreaterThan(0);
  const next = protocolMd.indexOf('\n## ', start + 1);
  return protocolMd.slice(start, next === -1 ? undefined : next);
}

/** Field name → encoding column of the key-file table. */
function documentedKeyFields(): Map<string, string> {
  const rows = [...filesSection().matchAll(/^\| `(\w+)` \| ([^|]+) \|/gm)];
  return new Map(rows.map((m) => [m[1]!, m[2]!.trim()]));
}

describe('docs/protocol.md: files written by fedstat init', () => {
  let dir: string;
  let init: InitResult;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedstat-docs-files-'));
    const schema = parseSchema(
      { datasets: { residents: { columns: { district: { type: 'category', values: ['锦江区', '青羊区'] } } } } },
      'schema.json',
    );
    init = await initFederation({
      outDir: join(dir, 'fed'),
      schema,
      keyAuthorityEndpoint: 'ka.example.org:7309',
      agencies: [
        { id: 'a1', endpoint: '127.0.0.1:7301' },
        { id: 'a2', endpoint: 'a2.example.org:7302' },
      ],
    });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('key files hold exactly the documented fields, in the documented encodings, mode 0600', () => {
    const documented = documentedKeyFields();
    expect([...documented.keys()].sort()).toEqual([
      'agreementSecret',
      'fedstat',
      'heSecretKey',
      'party',
      'role',
      'signingSeed',
      'tlsCertificate',
      'tlsPrivateKey',
    ]);
    for (const [party, file] of Object.entries(init.keyFiles)) {
      expect(statSync(file).mode & 0o777, file).toBe(0o600);
      const text = readFileSync(file, 'utf8');
      expect(text.endsWith('}\n')).toBe(true);
      const doc = JSON.parse(text) as Record<string, unknown>;
      const role = init.federation.parties.find((p) => p.id === party)!.role;
      const expected = [...documented.keys()].filter((k) => k !== 'heSecretKey' || role === 'key-authority');
      expect(Object.keys(doc).sort(), party).toEqual(expected.sort());
      expect(doc).toMatchObject({ fedstat: 1, party, role });
      for (const [field, encoding] of documented) {
        const value = doc[field];
        if (value === undefined) continue;
        if (encoding.startsWith('base64')) {
          expect(typeof value).toBe('string');
          const bytes = Buffer.from(value as string, 'base64');
          expect(bytes.toString('base64'), `${party}.${field} is canonical padded base64`).toBe(value);
          const size = /(\d+) bytes/.exec(encoding)?.[1];
          if (size !== undefined) expect(bytes.length, `${party}.${field}`).toBe(Number(size));
        }
      }
      expect(doc['tlsCertificate']).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
      expect(doc['tlsPrivateKey']).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    }
    expect(filesSection()).toContain('`keys/<party>.key`, one per party, written with mode 0600');
    expect(statSync(init.caKeyFile).mode & 0o777).toBe(0o600);
  });

  it("caSha256 is the SHA-256 of ca.crt's PEM bytes, not of its DER", () => {
    const doc = JSON.parse(readFileSync(init.federationFile, 'utf8')) as { tls: { caFile: string; caSha256: string } };
    const pem = readFileSync(join(dir, 'fed', doc.tls.caFile));
    expect(doc.tls.caSha256).toBe(sha256Hex(pem));
    expect(doc.tls.caSha256).not.toBe(sha256Hex(new X509Certificate(pem).raw));
    expect(pem.toString('latin1')).toMatch(
      /^-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/,
    );
    expect(filesSection()).toMatch(/`caSha256` is the SHA-256 of those PEM bytes, not of the certificate's DER/);
  });

  it('party certificates carry OU=<role>, CN=<party id> and DNS:<party id> first among their names', () => {
    for (const [party, file] of Object.entries(init.keyFiles)) {
      const role = init.federation.parties.find((p) => p.id === party)!.role;
      const pem = (JSON.parse(readFileSync(file, 'utf8')) as { tlsCertificate: string }).tlsCertificate;
      const cert = new X509Certificate(pem);
      expect(cert.subject).toBe(`OU=${role}\nCN=${party}`);
      const names = cert.subjectAltName?.split(', ') ?? [];
      expect(names[0]).toBe(`DNS:${party}`);
      expect(names).toEqual(
        expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']),
      );
    }
    const a2 = new X509Certificate(
      (JSON.parse(readFileSync(init.keyFiles['a2']!, 'utf8')) as { tlsCertificate: string }).tlsCertificate,
    );
    expect(a2.subjectAltName).toContain('DNS:a2.example.org');
    expect(filesSection()).toContain('subject `OU=<role>, CN=<party id>`');
  });
});

describe('docs/protocol.md: the .proto include root', () => {
  it('is proto/: every import names a file by its path under proto/', () => {
    expect(protocolMd).toContain('**include root is `proto/`**');
    const folder = join(root, 'proto', 'fedstat', 'v1');
    const files = readdirSync(folder).filter((f) => f.endsWith('.proto'));
    expect(files.sort()).toEqual(['agency.proto', 'key-authority.proto', 'transparency.proto']);
    let imports = 0;
    for (const f of files) {
      for (const m of readFileSync(join(folder, f), 'utf8').matchAll(/^import\s+"([^"]+)";/gm)) {
        expect(m[1], `${f} imports ${m[1]}`).toMatch(/^fedstat\/v1\//);
        expect(existsSync(join(root, 'proto', m[1]!)), `${f} imports ${m[1]}`).toBe(true);
        imports++;
      }
    }
    expect(imports).toBeGreaterThan(0);
  });
});
