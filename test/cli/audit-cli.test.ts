/**
 * `fedstat audit verify | show | prove` run in process through commander, as main.ts will run
 * them: exit code 0 only for a log where everything holds, 5 (DATA_INVALID) with every finding
 * listed otherwise; the federation file and published head are found beside the log by default;
 * --since catches a rewritten log; --json output parses and matches the library's answers; the
 * proof printed by `prove --json` is checked by a third party with only the operator's key.
 */
import { appendFileSync, copyFileSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerAudit } from '../../src/cli/commands/audit.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { rhoToString } from '../../src/dp/rho.js';
import { partyOfRole } from '../../src/federation/federation.js';
import { checkEntryProof } from '../../src/auditor/prove.js';
import { recordBytes, writeRecord } from '../../src/transparency/log-record.js';
import { treeHeadFileFor, writeTreeHeadFile } from '../../src/transparency/tree-head-file.js';
import { treeHeadToJson } from '../../src/merkle/tree-head.js';
import { createAuditFixture, queryEvents, type AuditFixture } from '../auditor/audit-fixture.js';

let fx: AuditFixture;
beforeAll(async () => {
  fx = await createAuditFixture();
}, 60_000);
afterAll(() => fx.close());
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});
const T = 1_800_000_000_000;

/** Runs `fedstat ARGS` in process; returns exit code, stdout and stderr. */
async function fedstat(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  const program = new Command('fedstat').exitOverride();
  registerAudit(program);
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'fedstat', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const code = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { code: Number(code), out, err };
}

/** A log beside federation.json (fed/NAME) with its head published as NAME.head.json. */
async function published(name: string, events: ReturnType<typeof queryEvents>) {
  const log = await fx.writeLog(
    join('fed', name),
    events.map((e) => fx.entry(e.event, e.author)),
  );
  await writeTreeHeadFile(treeHeadFileFor(log.file), log.head);
  return log;
}
const opts = () => ({ coordinator: fx.coordinator, keyAuthority: fx.keyAuthority });

describe('fedstat audit', () => {
  it('verify: exit 0 and a summary for a clean log, federation and head found beside it', async () => {
    const { file, head } = await published('clean.tlog', queryEvents('q1', ['a1', 'a2'], T, opts()));
    const r = await fedstat('audit', 'verify', file);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${head.size} entries`);
    expect(r.out).toContain(`the first ${head.size} entries are signed by the log operator`);
    expect(r.out).toMatch(/a1\s+residents\s+1\s+0\.05\s+0\.05\s+1/);
    expect(r.out).toContain('OK: every entry');
    const j = await fedstat('audit', 'verify', file, '--json');
    expect(j.code).toBe(0);
    expect(JSON.parse(j.out)).toMatchObject({ ok: true, size: head.size, signedSize: head.size, findingCount: 0 });
  });

  it('verify: exit 5 listing each finding with its entry; --json puts the report in the error', async () => {
    const events = queryEvents('q1', ['a1', 'a2'], T, opts()).slice(1); // the query is missing
    const { file } = await published('bad.tlog', events);
    const r = await fedstat('audit', 'verify', file, '--federation', fx.federationFile);
    expect(r.code).toBe(EXIT.DATA);
    const release = events.length - 1;
    expect(r.out).toMatch(new RegExp(`\\n\\s*${release}\\s+release-without-query\\s+query q1 was released`));
    expect(r.err).toMatch(/fedstat: the log does not verify: \d+ finding/);
    const j = await fedstat('audit', 'verify', file, '--json');
    expect(j.code).toBe(EXIT.DATA);
    const doc = JSON.parse(j.out) as {
      error: { code: string; details: { report: { findings: { kind: string; entry: number }[] } } };
    };
    expect(doc.error.code).toBe('DATA_INVALID');
    expect(doc.error.details.report.findings).toContainEqual(
      expect.objectContaining({ kind: 'release-without-query', entry: release }),
    );
  });

  it('verify --since: a log rewritten after the auditor kept a head fails; the same log extended passes', async () => {
    const first = queryEvents('q1', ['a1', 'a2'], T, opts());
    const { head: kept } = await fx.writeLog(
      'kept.tlog',
      first.map((e) => fx.entry(e.event, e.author)),
    );
    const keptFile = join(fx.dir, 'kept-head.json');
    writeFileSync(keptFile, JSON.stringify(treeHeadToJson(kept)));
    const more = queryEvents('q2', ['a2', 'a3'], T + 10, { ...opts(), spentBefore: ['1/10', '1/20'] });
    const extended = await published('extended.tlog', [...first, ...more]);
    expect((await fedstat('audit', 'verify', extended.file, '--since', keptFile)).code).toBe(0);
    const rewritten = await published('rewritten.tlog', [...first.slice(0, 3), ...more]);
    const r = await fedstat('audit', 'verify', rewritten.file, '--since', keptFile);
    expect(r.code).toBe(EXIT.DATA);
    expect(r.out).toContain('inconsistent');
  });

  it('verify without --since: a log cut a few bytes into the published head fails, naming the torn entry; a torn tail beyond it is a note', async () => {
    const { file, head } = await published('cut.tlog', queryEvents('q1', ['a1', 'a2'], T, opts()));
    truncateSync(file, statSync(file).size - 4);
    const r = await fedstat('audit', 'verify', file);
    expect(r.code).toBe(EXIT.DATA);
    expect(r.out).toMatch(
      new RegExp(
        `truncated\\s+a tree head was signed for ${head.size} entries but the file has ${head.size - 1} and \\d+ bytes of entry ${head.size - 1}`,
      ),
    );
    expect(r.out).not.toMatch(/unacknowledged|crash-torn/); // a head covers it: not a crash artifact
    const j = JSON.parse((await fedstat('audit', 'verify', file, '--json')).out) as {
      error: { details: { report: { tornBytes: number } } };
    };
    expect(j.error.details.report.tornBytes).toBe(0);
    // A partial record after the head: what a crash mid-append leaves; noted, not a finding.
    const ok = await published('torn.tlog', queryEvents('q1', ['a1', 'a2'], T, opts()));
    const partial = Buffer.alloc(recordBytes(20));
    writeRecord(partial, 0, new Uint8Array(20));
    appendFileSync(ok.file, partial.subarray(0, 11));
    const t = await fedstat('audit', 'verify', ok.file);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/note: 11 bytes of an unacknowledged, crash-torn final record/);
  });

  it('verify --head FILE still checks the head published beside the log', async () => {
    const events = queryEvents('q1', ['a1', 'a2'], T, opts());
    const { file, heads } = await published('two-heads.tlog', events);
    const early = join(fx.dir, 'early-head.json');
    writeFileSync(early, JSON.stringify(treeHeadToJson(heads[2]!)));
    truncateSync(
      file,
      16 + events.slice(0, 5).reduce((n, e) => n + recordBytes(fx.entry(e.event, e.author).length), 0),
    );
    const r = await fedstat('audit', 'verify', file, '--head', early);
    expect(r.code).toBe(EXIT.DATA);
    expect(r.out).toMatch(
      new RegExp(`truncated\\s+a tree head was signed for ${events.length} entries but the file has 5`),
    );
    expect(r.out).toContain('tree heads: 1 verified');
    // Deleted, with its head still published beside it: said plainly.
    rmSync(file);
    const gone = await fedstat('audit', 'verify', file);
    expect(gone.code).toBe(EXIT.IO);
    expect(gone.err).toMatch(/is missing, but a tree head published for it covers \d+ entries/);
  });

  it("verify --ledger AGENCY=FILE: reconciles an agency's ledger with the log, as a table and in --json; bad specs are config errors", async () => {
    const ledgerFile = join(fx.dir, 'a1.ledger');
    const ledger = await BudgetLedger.open(ledgerFile, { budgets: { residents: '1' } });
    const c1 = await ledger.charge({ dataset: 'residents', queryId: 'q1', rho: '1/20', at: new Date(T) });
    const head1 = ledger.head();
    await ledger.charge({ dataset: 'residents', queryId: 'q2', rho: '1/20', at: new Date(T) }); // never logged
    await ledger.close();
    const events = queryEvents('q1', ['a1', 'a2'], T, opts()).map((e) =>
      e.event.type === 'budget' && e.event.agencyId === 'a1'
        ? { ...e, event: { ...e.event, rho: rhoToString(c1.rho), spent: '1/20', ledgerHead: head1 } }
        : e,
    );
    const { file } = await published('ledger.tlog', events);
    const before = readFileSync(ledgerFile);
    const r = await fedstat('audit', 'verify', file, '--ledger', `a1=${ledgerFile}`);
    expect(r.code).toBe(EXIT.DATA);
    expect(r.out).toMatch(
      /agency\s+ledger\s+ledger charges\s+logged\s+matched\s+missing in log\s+missing in ledger\s+mismatched/,
    );
    expect(r.out).toMatch(
      new RegExp(`a1\\s+${ledgerFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+2\\s+1\\s+1\\s+1\\s+0\\s+0`),
    );
    expect(r.out).toMatch(/—\s+missing-in-log\s+a1's ledger charge 2 \(query q2 on residents/);
    const j = JSON.parse((await fedstat('audit', 'verify', file, '--ledger', `a1=${ledgerFile}`, '--json')).out) as {
      error: { details: { report: { ledgers: unknown[]; findings: { kind: string }[] } } };
    };
    expect(j.error.details.report.ledgers).toEqual([
      {
        agency: 'a1',
        file: ledgerFile,
        ledgerCharges: 2,
        loggedCharges: 1,
        matched: 1,
        missingInLog: 1,
        missingInLedger: 0,
        mismatched: 0,
      },
    ]);
    expect(j.error.details.report.findings.map((f) => f.kind)).toEqual(['missing-in-log']);
    expect(readFileSync(ledgerFile).equals(before)).toBe(true);
    // Without the unlogged charge in the ledger the same log reconciles.
    const onlyFirst = join(fx.dir, 'a1-first.ledger');
    writeFileSync(onlyFirst, before.subarray(0, before.indexOf('\n', before.indexOf('"q1"')) + 1), { mode: 0o600 });
    const ok = await fedstat('audit', 'verify', file, '--ledger', `a1=${onlyFirst}`);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('and every ledger reconciles with the log');
    for (const [spec, why] of [
      ['a1', /expected AGENCY=FILE/],
      ['nobody=x.ledger', /nobody is not an agency of this federation \(agencies: a1, a2, a3\)/],
    ] as const) {
      const bad = await fedstat('audit', 'verify', file, '--ledger', spec);
      expect(bad.code).toBe(EXIT.CONFIG);
      expect(bad.err).toMatch(why);
    }
    expect((await fedstat('audit', 'verify', file, '--ledger', `a1=${join(fx.dir, 'absent.ledger')}`)).code).toBe(
      EXIT.IO,
    );
  });

  it('verify: a missing federation file or a malformed head file is a clear error, not a crash', async () => {
    const { file } = await fx.writeLog('alone.tlog', [
      fx.entry({ type: 'refusal', at: T, queryId: 'q', agencyId: 'a1', reason: 'r' }, 'a1'),
    ]);
    const r = await fedstat('audit', 'verify', file);
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.err).toMatch(/pass --federation FILE/);
    writeFileSync(join(fx.dir, 'bad-head.json'), '{"size": 3}');
    const h = await fedstat(
      'audit',
      'verify',
      file,
      '--federation',
      fx.federationFile,
      '--head',
      join(fx.dir, 'bad-head.json'),
    );
    expect(h.code).toBe(EXIT.NETWORK); // BAD_MESSAGE: the head file is not a signed head
    expect(h.err).toMatch(/malformed signed tree head/);
  });

  it('show: a table of every entry, filtered by agency or dataset, and JSON rows', async () => {
    const { file, heads } = await published('show.tlog', [
      ...queryEvents('q1', ['a1', 'a2'], T, opts()),
      ...queryEvents('q2', ['a2', 'a3'], T, { ...opts(), dataset: 'firms' }),
    ]);
    const r = await fedstat('audit', 'show', file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/#\s+time \(UTC\)\s+kind\s+who\s+query\s+dataset\s+what/);
    expect(r.out).toMatch(/0\s+2027-01-15 08:00:00\s+query\s+coordinator\s+q1\s+residents\s+asked a1,a2/);
    expect(r.out).toContain('signatures not checked');
    const j = await fedstat(
      'audit',
      'show',
      file,
      '--json',
      '--dataset',
      'firms',
      '--agency',
      'a3',
      '--federation',
      fx.federationFile,
    );
    const rows = JSON.parse(j.out) as { queryId: string; dataset: string; verified: boolean }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((x) => x.queryId === 'q2' && x.dataset === 'firms' && x.verified)).toBe(true);
    expect(JSON.parse((await fedstat('audit', 'show', file, '--json', '--agency', 'nobody')).out)).toEqual([]);
    // --since: an entry index, or a kept head file (entries after it); datasets still come from earlier queries.
    const fromIndex = JSON.parse((await fedstat('audit', 'show', file, '--json', '--since', '12')).out) as {
      index: number;
      dataset: string;
    }[];
    expect(fromIndex[0]!.index).toBe(12);
    expect(fromIndex.every((x) => x.index >= 12 && x.dataset !== '')).toBe(true);
    const headFile = join(fx.dir, 'kept-for-show.json');
    writeFileSync(headFile, JSON.stringify(treeHeadToJson(heads[14]!)));
    const fromHead = JSON.parse((await fedstat('audit', 'show', file, '--json', '--since', headFile)).out) as {
      index: number;
    }[];
    expect(fromHead.map((x) => x.index)[0]).toBe(15);
  });

  it('prove: the JSON proof checks with only the operator key; a bad index is a usage or query error', async () => {
    const { file, head } = await published('prove.tlog', queryEvents('q1', ['a1', 'a2', 'a3'], T, opts()));
    const r = await fedstat('audit', 'prove', file, '--entry', '4', '--json');
    expect(r.code).toBe(0);
    const proof: unknown = JSON.parse(r.out);
    expect(checkEntryProof(proof, partyOfRole(fx.federation, 'coordinator').signingKey)).toEqual({ ok: true });
    const text = await fedstat('audit', 'prove', file, '--entry', '4');
    expect(text.out).toContain(`size ${head.size}, root`);
    expect((await fedstat('audit', 'prove', file, '--entry', String(head.size))).code).toBe(EXIT.QUERY);
    await expect(fedstat('audit', 'prove', file, '--entry', 'x')).rejects.toThrow(/--entry must be an integer/);
    // Without a published head there is nothing signed to prove against.
    const copy = join(fx.dir, 'fed', 'nohead.tlog');
    copyFileSync(file, copy);
    const none = await fedstat('audit', 'prove', copy, '--entry', '0');
    expect(none.code).toBe(EXIT.QUERY);
    expect(none.err).toMatch(/no tree head/);
  });
});
