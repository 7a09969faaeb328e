import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { assertInsecureAllowed, isLoopbackHost } from '../../src/tls/loopback.js';
import { ipAddressBytes, isDnsLabel, isDnsName, unbracket } from '../../src/tls/names.js';

const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

describe('loopback hosts', () => {
  it('accepts 127.0.0.0/8, ::1 in every spelling, mapped 127/8 and localhost', () => {
    for (const h of [
      '127.0.0.1',
      '127.255.0.9',
      'localhost',
      'LOCALHOST',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      '[::ffff:7f00:1]',
    ]) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
  });

  it('refuses wildcards, private and public addresses, other names and malformed text', () => {
    for (const h of [
      '0.0.0.0',
      '::',
      '[::]',
      '10.0.0.1',
      '128.0.0.1',
      '192.168.1.1',
      '::2',
      '::ffff:10.0.0.1',
      '1::1',
      'localhost.example.org',
      'mylocalhost',
      '127.0.0.1.nip.io',
      '127.1',
      '',
      '[127.0.0.1]x',
      'fe80::1%lo',
    ]) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });

  it('agrees with a reference: an IPv4 address is loopback exactly when its first octet is 127', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(isLoopbackHost(ip)).toBe(Number(ip.split('.')[0]) === 127);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses insecure use off loopback with a one-line CONFIG_INVALID that names the address and the fix', () => {
    expect(() => assertInsecureAllowed('127.0.0.1', 'agency server')).not.toThrow();
    expect(() => assertInsecureAllowed('[::1]', 'agency server')).not.toThrow();
    let error: unknown;
    try {
      assertInsecureAllowed('10.0.0.8', 'agency server');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FedstatError);
    expect((error as FedstatError).code).toBe('CONFIG_INVALID');
    expect((error as FedstatError).message).toBe(
      "plain TCP (--insecure) is refused on non-loopback address 10.0.0.8 for the agency server; use the federation's TLS certificates (drop --insecure), or use 127.0.0.1 for a local test",
    );
    expect((error as FedstatError).message).not.toContain('\n');
  });
});

describe('names and addresses', () => {
  it('parses IP literals to their bytes', () => {
    expect(hex(ipAddressBytes('127.0.0.1'))).toBe('7f000001');
    expect(hex(ipAddressBytes('::1'))).toBe('00000000000000000000000000000001');
    expect(hex(ipAddressBytes('[2001:db8::8:800:200c:417a]'))).toBe('20010db80000000000080800200c417a');
    expect(hex(ipAddressBytes('::'))).toBe('0'.repeat(32));
    expect(hex(ipAddressBytes('fe80::'))).toBe(`fe80${'0'.repeat(28)}`);
    expect(hex(ipAddressBytes('::ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(ipAddressBytes('1:2:3:4:5:6:7:8'))).toBe('00010002000300040005000600070008');
    expect(ipAddressBytes('fe80::1%eth0')).toBeNull();
    expect(ipAddressBytes('example.org')).toBeNull();
    expect(ipAddressBytes('256.0.0.1')).toBeNull();
  });

  it('agrees with a reference on every IPv6 spelling fast-check makes', () => {
    /** Reference: expand with node's URL parser, which normalises IPv6 hosts, then read the words. */
    const reference = (ip: string): string => {
      const host = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
      const [head = '', tail = ''] = host.split('::');
      const h = head === '' ? [] : head.split(':');
      const t = tail === '' ? [] : tail.split(':');
      const words = host.includes('::') ? [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
      return words.map((w) => w.padStart(4, '0')).join('');
    };
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        expect(isIPv6(ip)).toBe(true);
        expect(hex(ipAddressBytes(ip))).toBe(reference(ip));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(isIPv4(ip)).toBe(true);
        expect([...ipAddressBytes(ip)!].join('.')).toBe(ip);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts party ids that are DNS labels only', () => {
    for (const id of ['a', 'cd-psb', 'a1', '0', 'x'.repeat(63), 'a--b']) expect(isDnsLabel(id), id).toBe(true);
    for (const id of ['', '-a', 'a-', 'A', 'a_b', 'a.b', 'x'.repeat(64), 'é']) expect(isDnsLabel(id), id).toBe(false);
    expect(isDnsName('agency.example.org')).toBe(true);
    expect(isDnsName('*.example.org')).toBe(false);
    expect(isDnsName('example.org.')).toBe(false);
    expect(isDnsName(`${'a'.repeat(63)}.`.repeat(4) + 'a')).toBe(false); // 257 characters
    expect(unbracket('[::1]')).toBe('::1');
    expect(unbracket('::1')).toBe('::1');
  });
});
