/**
 * Crash test with real processes: a child appends waves of concurrent entries to a log and is
 * SIGKILLed at 12 random moments (some while it is still opening or repairing the log). After each
 * kill the log must reopen (taking over the dead child's lock), verify from the file alone up to
 * its last complete entry, hold every entry the child saw acknowledged at its acknowledged
 * index, hold nothing the child never tried, and agree with every tree head the child was
 * given. The child publishes its head beside the log after every wave, as the coordinator does
 * after every query: the published head must never cover more than survived (reopening checks
 * the log extends it, and would refuse otherwise). Afterwards appending continues. The child runs
 * the TypeScript source under Node 22's type stripping (test/helpers/ts-child.ts).
 */
import { randomInt } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnTsChild } from '../helpers/ts-child.js';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { recordBytes, writeRecord } from '../../src/transparency/log-record.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { verifyLogFile } from '../../src/auditor/log-file-check.js';

const dir = mkdtempSync(join(tmpdir(), 'fedstat-tlog-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHILD = new URL('./fixtures/log-crash-child.ts', import.meta.url).href;

interface Ack {
  index: number;
  headSize: number;
  root: string;
}
interface Run {
  acked: Map<string, Ack>;
  tried: Set<string>;
  opened: boolean;
  published: number;
}

function runChild(file: string, killAfterEvents: number, killAfterMs: number | null, fromSpawn: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawnTsChild(CHILD, { TLOG_FILE: file });
    const run: Run = { acked: new Map(), tried: new Set(), opened: false, published: -1 };
    let buffered = '';
    let stderr = '';
    let events = 0;
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    if (fromSpawn && killAfterMs !== null) setTimeout(kill, killAfterMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, id, index, headSize, root] = line.split(' ');
        if (kind === 'open') {
          run.opened = true;
          if (killAfterMs !== null && !fromSpawn) setTimeout(kill, killAfterMs);
        }
        if (kind === 'try') run.tried.add(id!);
        if (kind === 'published') run.published = Math.max(run.published, Number(id));
        if (kind === 'ack') run.acked.set(id!, { index: Number(index), headSize: Number(headSize), root: root! });
        if (++events >= killAfterEvents) kill();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolve(run);
    });
  });
}

describe('transparency log under SIGKILL', () => {
  it('keeps every acknowledged entry, verifies up to the last complete one, and continues', async () => {
    expect(process.versions.node.split('.')[0]).toBe('22');
    const file = join(dir, 'log.tlog');
    const op = signingKeyPairFromSeed(new Uint8Array(32).fill(5));
    const acked = new Map<string, Ack>();
    const tried = new Set<string>();
    let beforeOpen = 0;
    let tornCuts = 0;
    let previousSize = 0;
    let published = -1;
    for (let iteration = 0; iteration < 12; iteration++) {
      const mode = iteration % 3;
      const run =
        mode === 0
          ? await runChild(file, randomInt(1, 120), null, false)
          : await runChild(
              file,
              Number.MAX_SAFE_INTEGER,
              mode === 1 ? randomInt(0, 60) : randomInt(0, 500),
              mode === 2,
            );
      if (!run.opened) beforeOpen++;
      for (const id of run.tried) tried.add(id);
      for (const [id, a] of run.acked) acked.set(id, a);
      published = Math.max(published, run.published);
      const pre = await verifyLogFile(file);
      if (iteration % 2 === 1 && pre.ok && pre.tornBytes === 0) {
        // SIGKILL almost never lands inside write(2), so also leave what a power cut could: a
        // prefix of one more record (never acknowledged, so it must be cut, not counted). Only
        // on a clean end: the store never leaves two torn records, so neither does the test.
        const entry = new TextEncoder().encode(`torn-${iteration} ${'y'.repeat(randomInt(0, 500))}`);
        const record = Buffer.alloc(recordBytes(entry.length));
        writeRecord(record, 0, entry);
        appendFileSync(file, record.subarray(0, randomInt(1, record.length)));
      }

      // The file alone (no store, no repair): every complete record verifies.
      const before = statSync(file).size;
      const check = await verifyLogFile(file);
      expect(check.ok, check.ok ? '' : check.message).toBe(true);

      const log = await TransparencyLogStore.open(file, { logId: 'crash-test', secretKey: op.secretKey });
      if (log.opened.tornBytesCut > 0) tornCuts++;
      // The head published beside the log is the child's latest, and the log extends it (else open refused).
      expect(log.opened.publishedHead?.size ?? -1).toBeGreaterThanOrEqual(published);
      expect(log.size).toBeGreaterThanOrEqual(log.opened.publishedHead?.size ?? 0);
      expect(statSync(file).size).toBe(before - log.opened.tornBytesCut);
      if (check.ok) expect(log.size).toBe(check.size);
      expect(log.size >= previousSize).toBe(true); // nothing complete is ever lost
      previousSize = log.size;
      const ids = new Map<string, number>();
      for await (const { index, entry } of log.entries())
        ids.set(new TextDecoder().decode(entry).split(' ')[0]!, index);
      for (const [id, a] of acked) {
        expect(ids.get(id), `acknowledged entry ${id} is missing after the crash`).toBe(a.index);
        expect(
          Buffer.from(log.root(a.headSize)).toString('hex'),
          `head of size ${a.headSize} disagrees with the log`,
        ).toBe(a.root);
      }
      for (const id of ids.keys()) expect(tried.has(id), `phantom entry ${id}`).toBe(true);
      await log.close();
    }
    // Still usable afterwards, and the heads it signs verify against the file.
    const log = await TransparencyLogStore.open(file, { logId: 'crash-test', secretKey: op.secretKey });
    const { index, treeHead } = await log.append(new TextEncoder().encode('after-crashes'));
    expect(index).toBe(previousSize);
    await log.close();
    const final = await verifyLogFile(file, { heads: [treeHead], publicKey: op.publicKey, logId: 'crash-test' });
    expect(final.ok).toBe(true);
    console.log(
      `log crash test: 12 SIGKILLs (${beforeOpen} before the child's open finished), ${acked.size} acknowledged / ${tried.size} tried appends, ${previousSize} complete records (${previousSize - acked.size} durable but unacknowledged), ${tornCuts} torn tails cut`,
    );
  });
});
