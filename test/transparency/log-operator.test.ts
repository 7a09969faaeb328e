/**
 * Who signs tree heads, and tree-head files: without a "transparency" section the coordinator's
 * key is the operator key; a federation file naming transparency.operatorKey makes that key the
 * one heads must verify under (and the coordinator's no longer); a malformed one is a config
 * error. Head files round-trip one head or a list, are replaced atomically, and bad ones are
 * named errors.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { isFedstatError } from '../../src/errors.js';
import { loadFederation, partyOfRole } from '../../src/federation/federation.js';
import { verifyAuditLog } from '../../src/auditor/verify.js';
import { logOperator } from '../../src/transparency/log-operator.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { readTreeHeadFile, treeHeadFileFor, writeTreeHeadFile } from '../../src/transparency/tree-head-file.js';
import { treeHeadToJson } from '../../src/merkle/tree-head.js';
import { createAuditFixture, type AuditFixture } from '../auditor/audit-fixture.js';

let fx: AuditFixture;
beforeAll(async () => {
  fx = await createAuditFixture();
}, 60_000);
afterAll(() => fx.close());

describe('logOperator', () => {
  it('is the coordinator by default, or the key the federation file names', async () => {
    expect(logOperator(fx.federation)).toEqual({
      publicKey: partyOfRole(fx.federation, 'coordinator').signingKey,
      source: 'coordinator',
    });
    const operator = signingKeyPairFromSeed(new Uint8Array(32).fill(21));
    const doc = JSON.parse(readFileSync(fx.federationFile, 'utf8')) as Record<string, unknown>;
    const file = join(fx.dir, 'fed', 'federation-op.json');
    writeFileSync(
      file,
      JSON.stringify({ ...doc, transparency: { operatorKey: Buffer.from(operator.publicKey).toString('base64') } }),
    );
    const fed = loadFederation(file);
    expect(logOperator(fed)).toEqual({ publicKey: operator.publicKey, source: 'transparency.operatorKey' });
    // Heads by the named operator verify; heads by the coordinator no longer do.
    const entry = fx.entry({ type: 'refusal', at: 1, queryId: 'q', agencyId: 'a1', reason: 'r' }, 'a1');
    const heads = [];
    for (const [name, key] of [
      ['op', operator.secretKey],
      ['coord', fx.keys.get(fx.coordinator)!],
    ] as const) {
      const store = await TransparencyLogStore.open(join(fx.dir, `${name}.tlog`), { logId: fed.id, secretKey: key });
      heads.push((await store.append(entry)).treeHead);
      await store.close();
    }
    expect((await verifyAuditLog(join(fx.dir, 'op.tlog'), { federation: fed, heads: [heads[0]!] })).ok).toBe(true);
    const r = await verifyAuditLog(join(fx.dir, 'coord.tlog'), { federation: fed, heads: [heads[1]!] });
    expect(r.findings.map((f) => f.kind)).toEqual(['head-signature']);
    writeFileSync(file, JSON.stringify({ ...doc, transparency: { operatorKey: 'AAAA' } }));
    expect(() => logOperator(loadFederation(file))).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }) as Error,
    );
  });
});

describe('tree head files', () => {
  it('round-trip one head or a list; refuse what is not a head', async () => {
    const { file, heads } = await fx.writeLog(
      'heads.tlog',
      [1, 2, 3].map((i) => fx.entry({ type: 'refusal', at: i, queryId: 'q', agencyId: 'a1', reason: 'r' }, 'a1')),
    );
    const headFile = treeHeadFileFor(file);
    expect(headFile).toBe(`${file}.head.json`);
    await writeTreeHeadFile(headFile, heads[0]!);
    await writeTreeHeadFile(headFile, heads[2]!); // replaces
    expect((await readTreeHeadFile(headFile)).map(treeHeadToJson)).toEqual([treeHeadToJson(heads[2]!)]);
    writeFileSync(headFile, JSON.stringify(heads.map(treeHeadToJson)));
    expect((await readTreeHeadFile(headFile)).map((h) => h.size)).toEqual([1, 2, 3]);
    for (const text of ['nope', '[]', '{"logId":"x"}', JSON.stringify([treeHeadToJson(heads[0]!), { size: 1 }])]) {
      writeFileSync(headFile, text);
      const e = await readTreeHeadFile(headFile).catch((x: unknown) => x);
      expect(isFedstatError(e, 'BAD_MESSAGE'), text).toBe(true);
    }
    expect(isFedstatError(await readTreeHeadFile(join(fx.dir, 'missing.json')).catch((x: unknown) => x), 'IO')).toBe(
      true,
    );
  });
});
