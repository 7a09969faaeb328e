/**
 * What `init` refuses before it writes anything: malformed --agency arguments, ids, ports and
 * hosts (each with its own message), two parties on one endpoint under any spelling, and an --out
 * that is a file or already holds keys.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { checkEndpoint } from '../../src/federation/endpoint.js';
import { initFederation, parseAgencySpec, parseEndpointOption, type InitOptions } from '../../src/federation/init.js';
import { dnsLabelProblem } from '../../src/tls/names.js';
import { fedstatErrorOf as errorOf } from '../helpers/fedstat-error.js';
import { TLS_TEST_SCHEMA } from '../tls/tls-federation.js';

const socket = (text: string): string => {
  const e = checkEndpoint(text);
  if ('problem' in e) throw new Error(`${text}: ${e.problem}`);
  return e.socket;
};
const problem = (text: string): string => {
  const e = checkEndpoint(text);
  return 'problem' in e ? e.problem : '';
};

describe('endpoints', () => {
  it('reports a bad port as a bad port, and each other malformed endpoint by what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['127.0.0.1:70000', /^port 70000 is outside 1-65535/],
      ['127.0.0.1:0', /^port 0 is outside 1-65535/],
      ['127.0.0.1:123456', /^port 123456 is outside 1-65535/],
      ['127.0.0.1:http', /^port "http" is not a number/],
      ['127.0.0.1:', /^port "" is not a number/],
      ['127.0.0.1', /^has no port/],
      [':7301', /^has no host/],
      ['::1:7301', /IPv6 address must be in brackets/],
      ['[1.2.3.4]:7301', /brackets are only for IPv6/],
      ['[::1:7301', /IPv6 address must be in brackets/],
      ['0.0.0.0:7301', /wildcard address/],
      ['[::]:7301', /wildcard address/],
      ['300.1.1.1:7301', /not a valid IPv4 address/],
      ['host.7:7301', /not a valid IPv4 address/],
      ['-bad:7301', /neither an IP address nor a DNS name/],
      ['my_host:7301', /neither an IP address nor a DNS name/],
      ['example.org.:7301', /neither an IP address nor a DNS name/],
      ['[fe80::1%eth0]:7301', /has a zone id/],
    ];
    for (const [text, message] of cases) expect(problem(text), text).toMatch(message);
    for (const ok of [
      '127.0.0.1:1',
      '127.0.0.1:65535',
      'localhost:7301',
      '[::1]:7301',
      'agency-two.example.org:443',
      'MyHost:7301',
      '[2001:db8::1]:7301',
    ]) {
      expect(problem(ok), ok).toBe('');
    }
  });

  it('tells the same socket under different spellings apart from different sockets', () => {
    const same: [string, string][] = [
      ['127.0.0.1:7301', 'localhost:7301'],
      ['127.0.0.1:7301', '[::1]:7301'],
      ['127.0.0.1:7301', '127.0.0.2:7301'],
      ['LOCALHOST:7301', '[::ffff:127.0.0.1]:7301'],
      ['agency.localhost:7301', '127.0.0.1:7301'],
      ['10.0.0.1:7301', '[::ffff:10.0.0.1]:7301'],
      ['[2001:db8::1]:7301', '[2001:DB8:0:0::1]:7301'],
      ['Agency.Example.org:7301', 'agency.example.org:7301'],
      ['127.0.0.1:07301', '127.0.0.1:7301'],
    ];
    for (const [a, b] of same) expect(socket(a), `${a} ${b}`).toBe(socket(b));
    const different: [string, string][] = [
      ['127.0.0.1:7301', '127.0.0.1:7302'],
      ['10.0.0.1:7301', '10.0.0.2:7301'],
      ['10.0.0.1:7301', 'localhost:7301'],
      ['agency.example.org:7301', 'agency.example.com:7301'],
      ['a.example.org:7301', '10.0.0.1:7301'], // names are not resolved
    ];
    for (const [a, b] of different) expect(socket(a), `${a} ${b}`).not.toBe(socket(b));
  });

  it('every loopback spelling of a port is one socket, and no two ports are', () => {
    const loopback = fc.oneof(
      fc.constantFrom('localhost', 'LocalHost', '[::1]', '[0:0:0:0:0:0:0:1]', '[::ffff:127.0.0.1]'),
      fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `127.${a}.${b}.${c}`),
    );
    const port = fc.integer({ min: 1, max: 65535 });
    fc.assert(
      fc.property(loopback, loopback, port, port, (h1, h2, p1, p2) => {
        expect(socket(`${h1}:${p1}`) === socket(`${h2}:${p2}`)).toBe(p1 === p2);
      }),
    );
  });
});

describe('agency ids', () => {
  it('names the rule an id breaks', () => {
    expect(dnsLabelProblem('a'.repeat(64))).toBe('has 64 characters, more than 63');
    expect(dnsLabelProblem('')).toBe('is empty');
    expect(dnsLabelProblem('Cd-PSB')).toBe('has uppercase letters');
    expect(dnsLabelProblem('cd_psb')).toBe('has "_", which is not a lowercase letter, digit or dash');
    expect(dnsLabelProblem('锦江')).toMatch(/has "锦"/);
    expect(dnsLabelProblem('-a')).toMatch(/dash/);
    expect(dnsLabelProblem('a-')).toMatch(/dash/);
    for (const ok of ['a', 'cd-psb', '0', 'a--b', 'x'.repeat(63)]) expect(dnsLabelProblem(ok), ok).toBeNull();
  });
});

describe('--agency ID=HOST:PORT', () => {
  const refusal = (text: string): FedstatError => errorOf(() => parseAgencySpec(text));

  it('separates a malformed argument, a bad id and a bad endpoint', () => {
    for (const text of ['a1', '=127.0.0.1:7301', 'a1=', '']) {
      const e = refusal(text);
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message, text).toMatch(/expected ID=HOST:PORT, e\.g\. cd-psb=127\.0\.0\.1:7301$/);
    }
    const port = refusal('a1=127.0.0.1:70000');
    expect(port.message).toBe('--agency a1=127.0.0.1:70000: port 70000 is outside 1-65535; use a port from 1 to 65535');
    const long = refusal(`${'a'.repeat(64)}=127.0.0.1:7301`);
    expect(long.message).toMatch(
      /the agency id has 64 characters, more than 63; an agency id must be a DNS label, 1 to 63 lowercase letters/,
    );
    expect(refusal('CD-PSB=127.0.0.1:7301').message).toMatch(/the agency id has uppercase letters/);
    expect(refusal('key-authority=127.0.0.1:7301').message).toMatch(/is reserved for a federation role/);
    expect(refusal('a1=127.0.0.1:7301:9').message).toMatch(/IPv6 address must be in brackets/);
    expect(refusal('a 1=127.0.0.1:7301').message).toMatch(/^--agency "a 1=127\.0\.0\.1:7301": the agency id has " "/);
    for (const e of [port, long]) expect(e.message).not.toMatch(/lowercase id/);
  });

  it('keeps what is valid as written', () => {
    expect(parseAgencySpec('cd-psb=127.0.0.1:7301')).toEqual({ id: 'cd-psb', endpoint: '127.0.0.1:7301' });
    expect(parseAgencySpec('dy-housing=[::1]:7400')).toEqual({ id: 'dy-housing', endpoint: '[::1]:7400' });
    expect(parseEndpointOption('--key-authority')('ka.example.org:7309')).toBe('ka.example.org:7309');
    expect(errorOf(() => parseEndpointOption('--key-authority')('127.0.0.1:70000')).message).toBe(
      '--key-authority 127.0.0.1:70000: port 70000 is outside 1-65535; use a port from 1 to 65535',
    );
  });
});

describe('initFederation refuses before writing anything', () => {
  let dir: string;
  let n = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fedstat-init-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The error init throws for `options`, and what it left in its --out folder. */
  const attempt = async (
    options: Partial<InitOptions>,
    outDir = join(dir, `out-${n++}`),
  ): Promise<{ e: FedstatError; left: string[] }> => {
    const e = await initFederation({
      outDir,
      schema: TLS_TEST_SCHEMA,
      policy: { minAgencies: 1 },
      agencies: [
        { id: 'a1', endpoint: '127.0.0.1:7301' },
        { id: 'a2', endpoint: '127.0.0.1:7302' },
      ],
      ...options,
    }).then(
      () => {
        throw new Error('init succeeded');
      },
      (err: unknown) => err,
    );
    if (!(e instanceof FedstatError)) throw e;
    const left =
      existsSync(outDir) && statSync(outDir).isDirectory() ? readdirSync(outDir, { recursive: true }).map(String) : [];
    return { e, left };
  };

  it('two agencies on one endpoint, naming both', async () => {
    const { e, left } = await attempt({
      agencies: [
        { id: 'a1', endpoint: '127.0.0.1:7301' },
        { id: 'a2', endpoint: '127.0.0.1:7301' },
      ],
    });
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(
      'agency a1 and agency a2 have the same endpoint (both at 127.0.0.1:7301); give every party its own HOST:PORT',
    );
    expect(left).toEqual([]);
  });

  it('two agencies on one endpoint spelled differently', async () => {
    const { e } = await attempt({
      agencies: [
        { id: 'a1', endpoint: 'localhost:7301' },
        { id: 'a2', endpoint: '[::1]:7302' },
        { id: 'a3', endpoint: '127.0.0.1:7301' },
      ],
    });
    expect(e.message).toBe(
      "agency a1 and agency a3 have the same endpoint (localhost:7301 and 127.0.0.1:7301 are both this machine's loopback interface, port 7301); give every party its own HOST:PORT",
    );
  });

  it("a key-authority endpoint equal to an agency's", async () => {
    const { e, left } = await attempt({ keyAuthorityEndpoint: 'LOCALHOST:7302' });
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(
      /^agency a2 and the key authority have the same endpoint \(127\.0\.0\.1:7302 and LOCALHOST:7302 are both this machine's loopback interface, port 7302\)/,
    );
    expect(left).toEqual([]);
  });

  it('a malformed key-authority endpoint or agency endpoint given to the library', async () => {
    const ka = await attempt({ keyAuthorityEndpoint: '127.0.0.1:70000' });
    expect(ka.e.message).toBe(
      'endpoint 127.0.0.1:70000 of the key authority: port 70000 is outside 1-65535; use a port from 1 to 65535',
    );
    expect(ka.left).toEqual([]); // it used to be written, then refused by the federation file loader
    const agency = await attempt({ agencies: [{ id: 'a1', endpoint: 'nowhere' }] });
    expect(agency.e.message).toMatch(/^endpoint nowhere of agency a1: has no port/);
    const id = await attempt({ agencies: [{ id: 'a'.repeat(64), endpoint: '127.0.0.1:7301' }] });
    expect(id.e.message).toMatch(/^agency id a{64} has 64 characters, more than 63/);
  });

  it('an empty name and a dataset the schema does not declare', async () => {
    expect((await attempt({ name: '' })).e.message).toMatch(/federation name is empty/);
    const ds = await attempt({ agencies: [{ id: 'a1', endpoint: '127.0.0.1:7301', datasets: ['nope'] }] });
    expect(ds.e.message).toBe(
      'agency a1 lists dataset nope, which the schema does not declare; valid datasets: residents',
    );
    expect(ds.left).toEqual([]);
  });

  it('--out that is a file, or below one, as one IO line with the fix', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const { e } = await attempt({}, file);
    expect(e.code).toBe('IO');
    expect(e.message).toBe(
      `--out ${file} is a file, not a folder; give --out a folder to create the federation in (it is created if missing)`,
    );
    const below = await attempt({}, join(file, 'fed'));
    expect(below.e.code).toBe('IO');
    expect(below.e.message).toMatch(/a folder on its path is a file; choose another --out$/);
  });

  it('keys that would be overwritten, or a file where keys/ goes', async () => {
    const out = join(dir, 'stale');
    mkdirSync(join(out, 'keys'), { recursive: true });
    writeFileSync(join(out, 'keys', 'a2.key'), '{}');
    const { e, left } = await attempt({}, out);
    expect(e.code).toBe('IO');
    expect(e.message).toMatch(/key file .*a2\.key already exists .*pass --force/);
    expect(left.sort()).toEqual(['keys', join('keys', 'a2.key')]);
    const clash = join(dir, 'clash');
    mkdirSync(clash);
    writeFileSync(join(clash, 'keys'), '');
    expect((await attempt({}, clash)).e.message).toMatch(
      /keys is a file, but init writes the key files into a folder of that name/,
    );
  });
});
