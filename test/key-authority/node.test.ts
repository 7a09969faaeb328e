/**
 * The key authority as `fedstat key-authority serve` runs it: from the files `fedstat init` wrote,
 * over mTLS with the federation's certificates (plain TCP only with --insecure on loopback), with
 * its audit log and its one line per release, refusal or rejected request.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryAuditSink } from '../../src/transparency/events.js';
import { registerKeyAuthority } from '../../src/cli/commands/key-authority.js';
import type { FedstatError } from '../../src/errors.js';
import { hePublicKeyPath, type Federation } from '../../src/federation/federation.js';
import { initFederation, type InitResult } from '../../src/federation/init.js';
import { parseSchema } from '../../src/federation/schema.js';
import { loadKeyFile, type PartySecrets } from '../../src/federation/key-file.js';
import { freePorts } from '../../src/demo/free-port.js';
import { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { BFV_N8192_T60 } from '../../src/he/presets.js';
import { startKeyAuthorityNode } from '../../src/key-authority/node.js';
import { channelCredentials, channelOptionsFor } from '../../src/transport/credentials.js';
import { GrpcKeyAuthority } from '../../src/transport/key-authority-client.js';
import { SCHEMA, signers, type Signers } from './fixture.js';

let dir: string;
let fed: InitResult;
/** Another federation: its own CA, and no key authority endpoint. */
let other: InitResult;
let params: HeParams;
let encryptor: HeEncryptor;
let coordinator: PartySecrets;
let sign: Signers;
let endpoint: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-ka-node-'));
  const [port] = await freePorts(1);
  endpoint = `127.0.0.1:${port}`;
  const agencies = [
    { id: 'a1', endpoint: '127.0.0.1:1' },
    { id: 'a2', endpoint: '127.0.0.1:2' },
  ];
  const schema = parseSchema(SCHEMA, 'schema.json');
  fed = await initFederation({
    outDir: join(dir, 'fed'),
    schema,
    agencies,
    keyAuthorityEndpoint: endpoint,
    policy: { minAgencies: 2, exactRelease: true, transparencyLog: false },
  });
  other = await initFederation({ outDir: join(dir, 'other'), schema, agencies });
  params = await HeParams.create(BFV_N8192_T60);
  encryptor = new HeEncryptor(params, new Uint8Array(readFileSync(hePublicKeyPath(fed.federation))));
  coordinator = loadKeyFile(fed.keyFiles['coordinator']!, fed.federation);
  sign = signers(fed.federation, params.paramsId, coordinator.signing.secretKey, Date.now());
});
afterAll(() => {
  encryptor[Symbol.dispose]();
  params[Symbol.dispose]();
  rmSync(dir, { recursive: true, force: true });
});

/** A request over both agencies with per-slot values `a` and `b`. */
function requestOf(a: bigint, b: bigint) {
  const query = sign.query({ threshold: 2 });
  const set = sign.survivorSet(query, ['a1', 'a2']);
  const slots = (v: bigint) => new BigUint64Array(params.slotCount).fill(v);
  // Two agencies' ciphertexts side by side stand in for their sum: the key authority decrypts
  // whatever the signed request carries, one slot vector per ciphertext.
  return {
    request: sign.request(query, set, [encryptor.encrypt(slots(a)), encryptor.encrypt(slots(b))]),
    expected: [slots(a), slots(b)],
  };
}

function mtlsClient(federation: Federation, secrets: PartySecrets, at = endpoint): GrpcKeyAuthority {
  return new GrpcKeyAuthority(
    federation,
    at,
    channelCredentials(federation, secrets, { insecure: false, endpointHost: '127.0.0.1' }),
    channelOptionsFor('key-authority'),
    { params, deadlineMs: 5_000 },
  );
}

describe('startKeyAuthorityNode', () => {
  it('serves over mTLS on its endpoint: describe, a verified release, audit log, refusals and rejections reported; strangers cannot connect', async () => {
    const events = new MemoryAuditSink();
    const rejected: FedstatError[] = [];
    const auditLog = join(dir, 'ka-audit.jsonl');
    const node = await startKeyAuthorityNode({
      federationFile: fed.federationFile,
      keyFile: fed.keyFiles['key-authority']!,
      auditLog,
      onEvent: events,
      onRejected: (e) => rejected.push(e),
    });
    const client = mtlsClient(fed.federation, coordinator);
    try {
      expect(node.port).toBe(Number(endpoint.split(':')[1]));
      expect(await client.describe()).toMatchObject({
        partyId: 'key-authority',
        federationId: fed.federation.id,
        paramsId: params.paramsId,
      });
      const { request, expected } = requestOf(41n, 1n << 40n);
      expect((await client.decrypt(request)).slots).toEqual(expected);
      await expect(client.decrypt(request)).rejects.toMatchObject({ code: 'REPLAY' });
      await expect(client.decrypt({ ...request, signature: new Uint8Array(64) })).rejects.toMatchObject({
        code: 'BAD_MESSAGE',
      });
      expect(events.events.map((e) => e.type)).toEqual(['decryption', 'refusal']);
      expect(rejected.map((e) => e.code)).toEqual(['BAD_MESSAGE']);
      const logged = readFileSync(auditLog, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; contributors?: string[] });
      expect(logged.map((e) => e.type)).toEqual(['decryption', 'refusal']);
      expect(logged[0]?.contributors).toEqual(['a1', 'a2']);
      expect(node.keyAuthority.releases()).toHaveLength(1);
      // A peer without a certificate, or with one from another CA, cannot even connect.
      const plain = new GrpcKeyAuthority(
        fed.federation,
        endpoint,
        credentials.createInsecure(),
        {},
        { params, deadlineMs: 3_000 },
      );
      const stranger = mtlsClient(fed.federation, loadKeyFile(other.keyFiles['coordinator']!, other.federation));
      try {
        await expect(plain.describe()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
        await expect(stranger.decrypt(requestOf(3n, 4n).request)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      } finally {
        await plain.close();
        await stranger.close();
      }
      // An agency of this federation connects, but may not ask for decryptions.
      const agency = mtlsClient(fed.federation, loadKeyFile(fed.keyFiles['a1']!, fed.federation));
      try {
        expect(await agency.describe()).toMatchObject({ partyId: 'key-authority' });
        await expect(agency.decrypt(requestOf(5n, 6n).request)).rejects.toMatchObject({
          code: 'POLICY_REFUSED',
          message: expect.stringMatching(/party a1 may not ask for decryptions; only coordinator may/) as unknown,
        });
      } finally {
        await agency.close();
      }
      expect(node.keyAuthority.releases()).toHaveLength(1);
      expect(rejected.map((e) => e.code)).toEqual(['BAD_MESSAGE', 'POLICY_REFUSED']);
    } finally {
      await client.close();
      await node.close();
    }
  });

  it('plain TCP only with insecure on loopback; a federation without an endpoint needs a port', async () => {
    const base = { federationFile: fed.federationFile, keyFile: fed.keyFiles['key-authority']! };
    await expect(startKeyAuthorityNode({ ...base, insecure: true, host: '0.0.0.0', port: 0 })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(
        /plain TCP \(--insecure\) is refused on non-loopback address 0\.0\.0\.0/,
      ) as unknown,
    });
    await expect(
      startKeyAuthorityNode({
        federationFile: other.federationFile,
        keyFile: other.keyFiles['key-authority']!,
        insecure: true,
      }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/no endpoint; pass --port/) as unknown,
    });
    await expect(startKeyAuthorityNode({ ...base, keyFile: fed.keyFiles['a1']! })).rejects.toMatchObject({
      code: 'KEY_INVALID',
    });
    const node = await startKeyAuthorityNode({ ...base, insecure: true, port: 0 });
    const client = new GrpcKeyAuthority(
      fed.federation,
      `127.0.0.1:${node.port}`,
      credentials.createInsecure(),
      {},
      { params },
    );
    try {
      const { request, expected } = requestOf(7n, 9n);
      expect((await client.decrypt(request)).slots).toEqual(expected);
    } finally {
      await client.close();
      await node.close();
    }
  });
});

describe('fedstat key-authority serve', () => {
  async function serve(
    args: string[],
    until: RegExp | null,
  ): Promise<{ out: () => string; err: () => string; stop: () => Promise<void> }> {
    let out = '';
    let err = '';
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err += String(s);
      return true;
    });
    const before = new Set([...process.listeners('SIGINT'), ...process.listeners('SIGTERM')]);
    const program = new Command('fedstat').exitOverride();
    registerKeyAuthority(program);
    const run = program.parseAsync(['key-authority', 'serve', ...args], { from: 'user' });
    const restore = (): void => {
      stdout.mockRestore();
      stderr.mockRestore();
    };
    if (until === null) {
      await run;
      restore();
    } else {
      await vi.waitFor(() => expect(out).toMatch(until), { timeout: 10_000 });
    }
    return {
      out: () => out,
      err: () => err,
      stop: async () => {
        for (const l of process.listeners('SIGTERM').filter((x) => !before.has(x))) (l as () => void)();
        await run;
        restore();
      },
    };
  }

  it('prints one JSON line per release, refusal and rejected request, and stops cleanly on SIGTERM', async () => {
    const cli = await serve(
      [
        '--federation',
        fed.federationFile,
        '--key',
        fed.keyFiles['key-authority']!,
        '--insecure',
        '--port',
        '0',
        '--json',
      ],
      /"event":"listening"/,
    );
    const listening = JSON.parse(cli.out().split('\n')[0]!) as { port: number; keyAuthority: string; security: string };
    expect(listening).toMatchObject({ keyAuthority: 'key-authority', security: 'plain TCP (--insecure)' });
    const client = new GrpcKeyAuthority(
      fed.federation,
      `127.0.0.1:${listening.port}`,
      credentials.createInsecure(),
      {},
      { params },
    );
    try {
      const { request } = requestOf(1n, 2n);
      await client.decrypt(request);
      await expect(client.decrypt(request)).rejects.toMatchObject({ code: 'REPLAY' });
      await expect(client.decrypt({ ...request, ciphertexts: [] })).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    } finally {
      await client.close();
    }
    await cli.stop();
    const lines = cli
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; reason?: string });
    expect(lines.map((l) => l.event)).toEqual(['listening', 'decryption', 'refusal', 'rejected', 'stopped']);
    expect(lines[2]?.reason).toMatch(/decrypted before/);
    expect(cli.err()).toBe('');
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('fails with one line and the configuration exit code for --insecure on a public address', async () => {
    const cli = await serve(
      ['--federation', fed.federationFile, '--key', fed.keyFiles['key-authority']!, '--insecure', '--host', '0.0.0.0'],
      null,
    );
    try {
      expect(cli.err()).toMatch(
        /^fedstat: plain TCP \(--insecure\) is refused on non-loopback address 0\.0\.0\.0[^\n]*\n$/,
      );
      expect(process.exitCode).toBe(3);
    } finally {
      process.exitCode = 0;
    }
  });
});
