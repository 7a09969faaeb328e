import fc from 'fast-check';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { formatRho, parseRho, rhoCompare, rhoToString } from '../../src/dp/rho.js';
import { isFedstatError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'fedstat-budget-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `ledger-${n++}.jsonl`);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('budget ledger', () => {
  it('refuses a charge that would exceed the budget, stating requested, remaining and total ρ', async () => {
    const file = fresh();
    const ledger = await BudgetLedger.open(file, { budgets: { residents: '0.3', schools: '1/3' } });
    await ledger.charge({ dataset: 'residents', queryId: 'q1', rho: '0.1' });
    await ledger.charge({ dataset: 'residents', queryId: 'q2', rho: '0.15' });
    const e = await rejection(ledger.charge({ dataset: 'residents', queryId: 'q3', rho: '0.06' }));
    expect(isFedstatError(e, 'POLICY_REFUSED')).toBe(true);
    expect((e as Error).message).toBe(
      "dataset residents: requested ρ=0.06, remaining ρ=0.05 of ρ=0.3; ask for at most the remaining ρ or raise this agency's budget for residents",
    );
    expect((e as { details: unknown }).details).toMatchObject({
      requested: '0.06',
      remaining: '0.05',
      budget: '0.3',
      spent: '0.25',
    });
    // Exactly the remainder is allowed, and then nothing more.
    await ledger.charge({ dataset: 'residents', queryId: 'q4', rho: '0.05' });
    expect(formatRho(ledger.remaining('residents'))).toBe('0');
    expect(
      isFedstatError(
        await rejection(ledger.charge({ dataset: 'residents', queryId: 'q5', rho: '1/1000000000000' })),
        'POLICY_REFUSED',
      ),
    ).toBe(true);
    // Fractional budgets are exact: three charges of 1/9 fill 1/3.
    for (const q of ['a', 'b', 'c']) await ledger.charge({ dataset: 'schools', queryId: q, rho: '1/9' });
    expect(rhoCompare(ledger.spent('schools'), parseRho('1/3')!)).toBe(0);
    const msg = ((await rejection(ledger.charge({ dataset: 'schools', queryId: 'd', rho: '1/9' }))) as Error).message;
    expect(msg).toContain('requested ρ=1/9, remaining ρ=0 of ρ=1/3');
    // A refused charge was not recorded.
    expect(ledger.entries().map((c) => c.queryId)).toEqual(['q1', 'q2', 'q4', 'a', 'b', 'c']);
    await ledger.close();
  });

  it('refuses datasets without a budget, replays, malformed ρ; rejects bad budgets', async () => {
    const ledger = await BudgetLedger.open(fresh(), { budgets: { residents: '1' } });
    expect(
      isFedstatError(await rejection(ledger.charge({ dataset: 'health', queryId: 'q', rho: '0.1' })), 'POLICY_REFUSED'),
    ).toBe(true);
    expect(() => ledger.remaining('health')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as Error);
    const first = await ledger.charge({ dataset: 'residents', queryId: 'q', rho: '0.1' });
    const again = await rejection(ledger.charge({ dataset: 'residents', queryId: 'q', rho: '0.1' }));
    expect(isFedstatError(again, 'REPLAY')).toBe(true);
    expect(ledger.find('residents', 'q')).toEqual(first);
    // Two charges with the same id in one batch: exactly one wins.
    const both = await Promise.allSettled(
      [0, 1].map(() => ledger.charge({ dataset: 'residents', queryId: 'same', rho: '0.1' })),
    );
    expect(both.map((s) => s.status).sort()).toEqual(['fulfilled', 'rejected']);
    for (const bad of ['0', '-0.1', '1e-3', 'abc']) {
      expect(
        isFedstatError(
          await rejection(ledger.charge({ dataset: 'residents', queryId: `x${bad}`, rho: bad })),
          'QUERY_INVALID',
        ),
      ).toBe(true);
    }
    expect(formatRho(ledger.spent('residents'))).toBe('0.2');
    await ledger.close();
    await expect(BudgetLedger.open(fresh(), { budgets: { residents: '0.1.2' } })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });

  it('1000 concurrent charges never overspend and the accepted ones sum to spent (also after reopening)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(1000, 997, 3)), {
          minLength: 1000,
          maxLength: 1000,
        }),
        fc.integer({ min: 1, max: 200_000 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 999 }), { maxLength: 20 }).map((a) => new Set(a)),
        async (sizes, budgetMillis, breaks) => {
          const file = fresh();
          const budget = `${(budgetMillis / 1000) | 0}.${String(budgetMillis % 1000).padStart(3, '0')}`;
          const ledger = await BudgetLedger.open(file, { budgets: { d: budget } });
          // Issued across several event-loop turns, so later charges arrive while a flush is on disk.
          // Each outcome is captured as soon as the charge is issued (no unhandled rejection).
          const pending: Promise<PromiseSettledResult<unknown>>[] = [];
          for (const [i, [num, den]] of sizes.entries()) {
            if (breaks.has(i)) await new Promise((r) => setImmediate(r));
            pending.push(
              ledger.charge({ dataset: 'd', queryId: `q${i}`, rho: `${num}/${den}` }).then(
                (value) => ({ status: 'fulfilled' as const, value }),
                (reason: unknown) => ({ status: 'rejected' as const, reason }),
              ),
            );
          }
          const results = await Promise.all(pending);
          // Reference in units of 1/(1000·997·3): independent of the ledger's fraction code.
          const D = 1000n * 997n * 3n;
          const units = ([num, den]: [number, number]): bigint => BigInt(num) * (D / BigInt(den));
          let accepted = 0n;
          let running = 0n;
          const limit = BigInt(budgetMillis) * (D / 1000n);
          results.forEach((r, i) => {
            const u = units(sizes[i]!);
            if (r.status === 'fulfilled') {
              accepted += u;
              running += u;
            } else {
              expect(isFedstatError(r.reason, 'POLICY_REFUSED')).toBe(true);
              expect(running + u > limit).toBe(true); // refused only when it really would not fit, in arrival order
            }
          });
          expect(accepted <= limit).toBe(true);
          const spent = ledger.spent('d');
          expect(spent.num * D).toBe(accepted * spent.den);
          await ledger.close();
          const reopened = await BudgetLedger.open(file, { budgets: { d: budget } });
          expect(rhoToString(reopened.spent('d'))).toBe(rhoToString(spent));
          expect(reopened.entries().length).toBe(results.filter((r) => r.status === 'fulfilled').length);
          await reopened.close();
        },
      ),
      { numRuns: 8 },
    );
  });

  it('writes mode 0600, refuses a second open while held, and takes over a stale lock', async () => {
    const file = fresh();
    const ledger = await BudgetLedger.open(file, { budgets: { d: '1' } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.lock`).mode & 0o777).toBe(0o600);
    await expect(BudgetLedger.open(file, { budgets: { d: '1' } })).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining('already open') as string,
    });
    await ledger.charge({ dataset: 'd', queryId: 'q', rho: '0.5' });
    await ledger.close();
    expect(existsSync(`${file}.lock`)).toBe(false);
    // A lock left by a dead process on this host (pid 2^22+ beyond pid_max of typical systems is not alive).
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 4_194_304 + 7, host: (await import('node:os')).hostname() }), {
      mode: 0o600,
    });
    const again = await BudgetLedger.open(file, { budgets: { d: '1' } });
    expect(formatRho(again.spent('d'))).toBe('0.5');
    await again.close();
    chmodSync(file, 0o644);
    await expect(BudgetLedger.open(file, { budgets: { d: '1' } })).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining('chmod 600') as string,
    });
  });

  it('a budget lowered below what was spent leaves zero, and spent survives policy changes', async () => {
    const file = fresh();
    const a = await BudgetLedger.open(file, { budgets: { d: '1' } });
    await a.charge({ dataset: 'd', queryId: 'q', rho: '0.7' });
    await a.close();
    const b = await BudgetLedger.open(file, { budgets: { d: '0.5' } });
    expect(formatRho(b.remaining('d'))).toBe('0');
    expect(((await rejection(b.charge({ dataset: 'd', queryId: 'r', rho: '0.01' }))) as Error).message).toContain(
      'remaining ρ=0 of ρ=0.5',
    );
    await b.close();
  });
});

describe('budget ledger under disk failures', () => {
  // The FileHandle prototype, to make fsync fail the way a full or failing disk does.
  async function handleProto(): Promise<{ sync: () => Promise<void> }> {
    const h = await fsp.open(join(dir, 'proto'), 'a');
    await h.close();
    return Object.getPrototypeOf(h) as { sync: () => Promise<void> };
  }
  const eio = (): Promise<void> => Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));

  it('a failed fsync rejects the charge, charges nothing and rolls the file back', async () => {
    const file = fresh();
    const ledger = await BudgetLedger.open(file, { budgets: { d: '1' } });
    await ledger.charge({ dataset: 'd', queryId: 'ok', rho: '0.1' });
    const before = readFileSync(file);
    const spy = vi.spyOn(await handleProto(), 'sync').mockImplementationOnce(eio);
    try {
      const e = await rejection(ledger.charge({ dataset: 'd', queryId: 'lost', rho: '0.2' }));
      expect(isFedstatError(e, 'IO')).toBe(true);
      expect((e as Error).message).toContain('failed (EIO); nothing was charged');
    } finally {
      spy.mockRestore();
    }
    expect(formatRho(ledger.spent('d'))).toBe('0.1');
    expect(readFileSync(file).equals(before)).toBe(true); // truncated back to the acknowledged state
    await ledger.charge({ dataset: 'd', queryId: 'lost', rho: '0.2' }); // the retry is a fresh charge
    await ledger.close();
    const reopened = await BudgetLedger.open(file, { budgets: { d: '1' } });
    expect(reopened.entries().map((c) => c.queryId)).toEqual(['ok', 'lost']);
    await reopened.close();
  });

  it('when the rollback (truncate) fails too, it refuses and reports the fault while the disk fails, and recovers once the rollback works', async () => {
    const file = fresh();
    const ledger = await BudgetLedger.open(file, { budgets: { d: '1' } });
    const proto = (await handleProto()) as { sync: () => Promise<void>; truncate: () => Promise<void> };
    const spies = [
      vi.spyOn(proto, 'sync').mockImplementation(eio),
      vi.spyOn(proto, 'truncate').mockImplementation(eio),
    ];
    try {
      expect(isFedstatError(await rejection(ledger.charge({ dataset: 'd', queryId: 'q', rho: '0.3' })), 'IO')).toBe(
        true,
      );
      expect(ledger.fault()).toContain('unknown state after a failed write');
      const e = await rejection(ledger.charge({ dataset: 'd', queryId: 'r', rho: '0.01' }));
      expect((e as Error).message).toContain('unknown state after a failed write');
      expect((e as Error).message).toContain('the next charge retries the rollback');
    } finally {
      for (const s of spies) s.mockRestore();
    }
    // The disk works again: the next charge rolls the unacknowledged record back first, then charges.
    await ledger.charge({ dataset: 'd', queryId: 'r', rho: '0.01' });
    expect(ledger.fault()).toBeNull();
    await ledger.close();
    const reopened = await BudgetLedger.open(file, { budgets: { d: '1' } });
    expect(reopened.entries().map((c) => c.queryId)).toEqual(['r']);
    expect(formatRho(reopened.spent('d'))).toBe('0.01');
    await reopened.close();
  });

  it('a failed write is reported by fault() until a write succeeds', async () => {
    const ledger = await BudgetLedger.open(fresh(), { budgets: { d: '1' } });
    const spy = vi.spyOn(await handleProto(), 'sync').mockImplementationOnce(eio);
    try {
      await rejection(ledger.charge({ dataset: 'd', queryId: 'q', rho: '0.1' }));
    } finally {
      spy.mockRestore();
    }
    expect(ledger.fault()).toContain('failed (EIO)');
    await ledger.charge({ dataset: 'd', queryId: 'q', rho: '0.1' });
    expect(ledger.fault()).toBeNull();
    await ledger.close();
  });

  it('refuses to charge once its file was removed or replaced under it, and says so until restarted', async () => {
    const sub = join(dir, `moved-${n++}`);
    mkdirSync(sub);
    const file = join(sub, 'ledger.jsonl');
    const ledger = await BudgetLedger.open(file, { budgets: { d: '1' } });
    await ledger.charge({ dataset: 'd', queryId: 'a', rho: '0.1' });
    rmSync(sub, { recursive: true, force: true }); // the folder removed while the agency runs
    const e = await rejection(ledger.charge({ dataset: 'd', queryId: 'b', rho: '0.1' }));
    expect(isFedstatError(e, 'IO')).toBe(true);
    expect((e as Error).message).toContain('was removed while the agency was running');
    expect(ledger.fault()).toContain('restart the agency');
    expect(formatRho(ledger.spent('d'))).toBe('0.1');
    await ledger.close();

    const other = fresh();
    const replaced = await BudgetLedger.open(other, { budgets: { d: '1' } });
    renameSync(other, `${other}.old`);
    writeFileSync(other, readFileSync(`${other}.old`), { mode: 0o600 }); // same bytes, another file
    expect(((await rejection(replaced.charge({ dataset: 'd', queryId: 'c', rho: '0.1' }))) as Error).message).toContain(
      'was replaced',
    );
    await replaced.close();
  });

  it('rejects over-long names as QUERY_INVALID and charges after close as UNAVAILABLE', async () => {
    const ledger = await BudgetLedger.open(fresh(), { budgets: { d: '1' } });
    expect(
      isFedstatError(
        await rejection(ledger.charge({ dataset: 'd', queryId: 'x'.repeat(257), rho: '0.1' })),
        'QUERY_INVALID',
      ),
    ).toBe(true);
    expect(() => ledger.charge({ dataset: 'd', queryId: 'q', rho: '0.1', at: new Date(Number.NaN) })).toThrow(
      RangeError,
    );
    const inFlight = ledger.charge({ dataset: 'd', queryId: 'q', rho: '0.1' });
    await ledger.close(); // waits for the queued charge
    expect(formatRho((await inFlight).rho)).toBe('0.1');
    expect(
      isFedstatError(await rejection(ledger.charge({ dataset: 'd', queryId: 'r', rho: '0.1' })), 'UNAVAILABLE'),
    ).toBe(true);
  });
});

describe('budget ledger file integrity', () => {
  async function ledgerWith(count: number): Promise<{ file: string; text: string }> {
    const file = fresh();
    const l = await BudgetLedger.open(file, { budgets: { d: '100' } });
    for (let i = 0; i < count; i++)
      await l.charge({
        dataset: 'd',
        queryId: `q${i}`,
        rho: `0.0${i + 1}`,
        at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
      });
    await l.close();
    return { file, text: readFileSync(file, 'utf8') };
  }

  it('corruption in the middle is a clear error naming the line, never silently skipped', async () => {
    const { file, text } = await ledgerWith(5);
    const lines = text.split('\n');
    const tampered = [
      lines.map((l, i) => (i === 3 ? l.replace('"rho":"3/100"', '"rho":"1/100"') : l)), // edited ρ
      lines.filter((_, i) => i !== 2), // deleted charge
      lines.map((l, i) => (i === 2 ? lines[3]! : i === 3 ? lines[2]! : l)), // reordered
      lines.map((l, i) => (i === 4 ? l.slice(0, 10) + 'X' + l.slice(11) : l)), // flipped byte
      lines.map((l, i) => (i === 5 ? l.replace('"hash":"', '"hash":"0') : l)), // last complete line bad
    ];
    for (const t of tampered) {
      writeFileSync(file, t.join('\n'), { mode: 0o600 });
      const e = await rejection(BudgetLedger.open(file, { budgets: { d: '100' } }));
      expect(isFedstatError(e, 'IO'), String(e)).toBe(true);
      expect((e as Error).message).toMatch(/is corrupt at line \d+: .+; restore it from a backup/);
    }
    writeFileSync(file, '{"format":"something-else"}\n', { mode: 0o600 });
    expect(((await rejection(BudgetLedger.open(file, { budgets: {} }))) as Error).message).toContain(
      'not a fedstat budget ledger',
    );
  });

  it('a crash that cut the file at ANY byte reopens, counts every complete record and continues', async () => {
    const { text } = await ledgerWith(3);
    const bytes = Buffer.from(text, 'utf8');
    const ends: number[] = []; // byte offset where each line (with its newline) ends
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) ends.push(i + 1);
    const cut = join(dir, 'cut.jsonl');
    for (let len = 0; len <= bytes.length; len++) {
      writeFileSync(cut, bytes.subarray(0, len), { mode: 0o600 });
      const l = await BudgetLedger.open(cut, { budgets: { d: '100' } });
      // Records fully present, or missing only their newline, are counted; nothing else is.
      const expected = ends.slice(1).filter((e) => e <= len + 1).length;
      expect(l.entries().length, `cut at ${len}`).toBe(expected);
      const sum = l.entries().reduce((a, c) => a + Number(c.rho.num) * (100 / Number(c.rho.den)), 0);
      expect(sum).toBe((expected * (expected + 1)) / 2); // 0.01 + 0.02 + … in hundredths
      if (len % 5 !== 0 && !ends.includes(len) && !ends.includes(len + 1)) {
        await l.close();
        continue;
      }
      // At line boundaries and every 5th byte: the repaired ledger also takes new charges durably.
      await l.charge({ dataset: 'd', queryId: 'after', rho: '0.5' });
      await l.close();
      const again = await BudgetLedger.open(cut, { budgets: { d: '100' } });
      expect(again.entries().length).toBe(expected + 1);
      await again.close();
    }
  });

  it('a torn tail of zero bytes (size extended, data lost) is cut off', async () => {
    const { file } = await ledgerWith(2);
    appendFileSync(file, Buffer.alloc(300));
    const l = await BudgetLedger.open(file, { budgets: { d: '100' } });
    expect(l.entries().length).toBe(2);
    await l.close();
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
  });

  it('entries form a hash chain from the header to head()', async () => {
    const { file } = await ledgerWith(3);
    const l = await BudgetLedger.open(file, { budgets: { d: '100' } });
    const e = l.entries();
    expect(e.map((c) => c.seq)).toEqual([1, 2, 3]);
    expect(e[1]!.prev).toBe(e[0]!.hash);
    expect(e[2]!.prev).toBe(e[1]!.hash);
    expect(l.head()).toBe(e[2]!.hash);
    expect(e[0]!.at).toBe('2026-01-01T00:00:00.000Z');
    await l.close();
  });
});

describe("budget ledger: the charges' log entries", () => {
  const signer = (
    c: { seq: number; queryId: string },
    s: { spent: { num: bigint; den: bigint }; budget: { num: bigint; den: bigint } },
  ): Uint8Array =>
    new TextEncoder().encode(
      `entry of ${c.queryId} #${c.seq}: spent ${rhoToString(s.spent)} of ${rhoToString(s.budget)}`,
    );
  const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

  it("keeps each charge's signed entry with it, durably, until it is marked logged; both survive reopening", async () => {
    const file = fresh();
    const l = await BudgetLedger.open(file, { budgets: { d: '1', e: '2' } });
    const [a, b] = await Promise.all([
      // one group commit: each entry sees its own running total
      l.charge({ dataset: 'd', queryId: 'a', rho: '0.1', logEntry: signer }),
      l.charge({ dataset: 'd', queryId: 'b', rho: '0.2', logEntry: signer }),
    ]);
    const c = await l.charge({ dataset: 'e', queryId: 'c', rho: '0.5' }); // without an entry
    expect(text(l.logEntryOf(a))).toBe('entry of a #1: spent 1/10 of 1/1');
    expect(text(l.logEntryOf(b))).toBe('entry of b #2: spent 3/10 of 1/1');
    expect(l.unlogged().map((u) => u.charge.queryId)).toEqual(['a', 'b']);
    expect(l.unsigned().map((x) => x.queryId)).toEqual(['c']);
    expect(() => l.markLogged(c, 1.5)).toThrow(RangeError);
    await expect(l.markLogged(c, 4)).rejects.toThrow(RangeError); // no entry to be logged
    await l.markLogged(a, 7);
    await l.markLogged(a, 7); // twice: a no-op
    await l.attachEntry(c, new TextEncoder().encode('late entry of c'));
    expect(l.unlogged().map((u) => u.charge.queryId)).toEqual(['b', 'c']);
    await l.close();

    const again = await BudgetLedger.open(file, { budgets: { d: '1', e: '2' } });
    const [a2, b2, c2] = again.entries();
    expect(again.unlogged().map((u) => u.charge.queryId)).toEqual(['b', 'c']);
    expect(again.loggedAt(a2!)).toBe(7);
    expect(text(again.logEntryOf(b2!))).toBe('entry of b #2: spent 3/10 of 1/1');
    expect(text(again.logEntryOf(c2!))).toBe('late entry of c');
    expect(formatRho(again.spent('d'))).toBe('0.3');
    expect(again.head()).not.toBe(c2!.hash); // notes extend the chain
    await again.close();
  });

  it('a tampered, duplicated or misplaced note is corruption, never skipped', async () => {
    const file = fresh();
    const l = await BudgetLedger.open(file, { budgets: { d: '1' } });
    const a = await l.charge({ dataset: 'd', queryId: 'a', rho: '0.1', logEntry: signer });
    await l.markLogged(a, 3);
    await l.close();
    const lines = readFileSync(file, 'utf8').split('\n'); // header, charge, entry note, logged note, ''
    const tampered = [
      lines.map((x, i) => (i === 3 ? x.replace('"index":3', '"index":4') : x)),
      [lines[0], lines[1], lines[3], lines[2], ''],
      [lines[0], lines[2], lines[1], ''],
      [
        ...lines.slice(0, 4),
        lines[3]!.replace(/"prev":"[0-9a-f]+"/, `"prev":"${(JSON.parse(lines[3]!) as { hash: string }).hash}"`),
        '',
      ],
    ];
    for (const t of tampered) {
      writeFileSync(file, t.join('\n'), { mode: 0o600 });
      const e = await rejection(BudgetLedger.open(file, { budgets: { d: '1' } }));
      expect(isFedstatError(e, 'IO'), String(e)).toBe(true);
      expect((e as Error).message).toMatch(/is corrupt at line \d+/);
    }
  });

  it('a crash that cut the file at any byte keeps every complete charge; a charge whose entry was cut is listed unsigned', async () => {
    const file = fresh();
    const l = await BudgetLedger.open(file, { budgets: { d: '1' } });
    for (const q of ['a', 'b']) await l.charge({ dataset: 'd', queryId: q, rho: '0.1', logEntry: signer });
    await l.close();
    const bytes = readFileSync(file);
    const cut = join(dir, 'cut-notes.jsonl');
    // Every byte around a line end, and every 7th byte in between (each open takes the lock: keep it quick).
    const near = new Set<number>();
    bytes.forEach((b, i) => {
      if (b === 0x0a) for (const d of [-1, 0, 1, 2]) near.add(i + d);
    });
    for (let len = 0; len <= bytes.length; len++) {
      if (len % 7 !== 0 && !near.has(len) && len !== bytes.length) continue;
      writeFileSync(cut, bytes.subarray(0, len), { mode: 0o600 });
      const r = await BudgetLedger.open(cut, { budgets: { d: '1' } });
      const charges = r.entries().length;
      expect(r.unsigned().length + r.unlogged().length, `cut at ${len}`).toBe(charges);
      expect(
        r.unsigned().every((c) => c.seq === charges),
        `only the last charge can lose its entry (cut at ${len})`,
      ).toBe(true);
      await r.close();
    }
  });
});
