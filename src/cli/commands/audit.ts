/**
 * `fedstat audit verify | show | prove`: the auditor's tools over a transparency log file, all
 * offline. Each command core writes through `out` (stdout by default); `registerAudit` wires
 * them to commander.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { displayCanonicalRho } from '../../dp/rho.js';
import { FedstatError } from '../../errors.js';
import { readLedgerCharges } from '../../dp/ledger-charges.js';
import { agencies, loadFederation, type Federation } from '../../federation/federation.js';
import { auditRows, type AuditRow } from '../../auditor/show.js';
import { proveEntry, type EntryProofJson } from '../../auditor/prove.js';
import { verifyAuditLog, type AuditReport } from '../../auditor/verify.js';
import type { LedgerToReconcile } from '../../auditor/ledger-reconcile.js';
import { logOperator } from '../../transparency/log-operator.js';
import { readTreeHeadFile, treeHeadFileFor } from '../../transparency/tree-head-file.js';
import type { SignedTreeHead } from '../../merkle/tree-head.js';
import { toJson } from '../json.js';
import { action, parseIntOption } from '../run.js';
import { renderTable } from '../table.js';

type Out = (text: string) => void;
const stdout: Out = (text) => {
  process.stdout.write(text);
};

interface AuditVerifyFlags {
  /** Federation file; default federation.json beside the log. */
  readonly federation?: string;
  /** Tree head file(s) kept from before: the log must extend them. */
  readonly since?: readonly string[];
  /** A head file the log operator published; LOG.head.json beside the log is checked too when it exists. */
  readonly head?: string;
  /** `AGENCY=FILE`: budget ledgers to reconcile with the log (read only). */
  readonly ledger?: readonly string[];
  readonly json?: boolean;
}

/** The federation file for a log: the given one, else federation.json beside the log. */
function federationFor(log: string, file: string | undefined): Federation {
  const path = file ?? join(dirname(log), 'federation.json');
  if (file === undefined && !existsSync(path)) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `no federation.json beside ${log}; pass --federation FILE (the federation file the log belongs to)`,
    );
  }
  return loadFederation(path);
}

/** The published heads: --head FILE, and LOG.head.json if the operator put one there (both when both exist). */
async function publishedHeads(log: string, file: string | undefined): Promise<SignedTreeHead[]> {
  const beside = treeHeadFileFor(log);
  const heads = file === undefined ? [] : await readTreeHeadFile(file);
  if (existsSync(beside) && (file === undefined || resolve(file) !== resolve(beside)))
    heads.push(...(await readTreeHeadFile(beside)));
  return heads;
}

/** `--ledger AGENCY=FILE` (repeatable): each agency's ledger, read without touching it. */
async function ledgersToReconcile(federation: Federation, specs: readonly string[]): Promise<LedgerToReconcile[]> {
  const agencyIds = agencies(federation).map((a) => a.id);
  const seen = new Set<string>();
  const out: LedgerToReconcile[] = [];
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const agency = eq > 0 ? spec.slice(0, eq) : '';
    const file = spec.slice(eq + 1);
    if (eq <= 0 || file.length === 0)
      throw new FedstatError(
        'CONFIG_INVALID',
        `--ledger ${spec}: expected AGENCY=FILE, such as --ledger agency-1=agency-1.ledger`,
      );
    if (!agencyIds.includes(agency))
      throw new FedstatError(
        'CONFIG_INVALID',
        `--ledger ${spec}: ${agency} is not an agency of this federation (agencies: ${agencyIds.join(', ')})`,
      );
    if (seen.has(agency))
      throw new FedstatError('CONFIG_INVALID', `--ledger ${spec}: give one ledger per agency (${agency} twice)`);
    seen.add(agency);
    out.push({ agency, file, charges: await readLedgerCharges(file) });
  }
  return out;
}

function renderReport(r: AuditReport): string {
  const lines = [
    `log ${r.file}: ${r.size} entries, root ${r.rootHash}`,
    `federation ${r.logId}`,
    r.signedSize === null
      ? 'tree heads: none verified (pass --head FILE or put LOG.head.json beside the log): the entries are checked, but nothing shows this is the log others saw'
      : `tree heads: ${r.headsVerified} verified; the first ${r.signedSize} entries are signed by the log operator${r.size > r.signedSize ? `, the last ${r.size - r.signedSize} by no head yet` : ''}`,
  ];
  if (r.tornBytes > 0)
    lines.push(
      `note: ${r.tornBytes} bytes of an unacknowledged, crash-torn final record follow the last entry (not an entry; the log operator cuts them when it reopens the log)`,
    );
  lines.push(
    `entries: ${Object.entries(r.counts)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    '',
  );
  if (r.budgets.length > 0) {
    lines.push(
      renderTable(
        ['agency', 'dataset', 'charges', 'logged rho', 'reported spent', 'budget'],
        r.budgets.map((b) => [
          b.agency,
          b.dataset,
          String(b.charges),
          ...[b.logged, b.spent, b.budget].map(displayCanonicalRho),
        ]),
        ['left', 'left', 'right', 'right', 'right', 'right'],
      ),
      '',
    );
  }
  if (r.ledgers.length > 0) {
    lines.push(
      renderTable(
        [
          'agency',
          'ledger',
          'ledger charges',
          'logged',
          'matched',
          'missing in log',
          'missing in ledger',
          'mismatched',
        ],
        r.ledgers.map((l) => [
          l.agency,
          l.file,
          String(l.ledgerCharges),
          String(l.loggedCharges),
          String(l.matched),
          String(l.missingInLog),
          String(l.missingInLedger),
          String(l.mismatched),
        ]),
        ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
    );
  }
  if (r.findingCount === 0) {
    lines.push(
      `OK: every entry, signature, tree head and policy rule checked holds${r.ledgers.length > 0 ? ', and every ledger reconciles with the log' : ''}`,
    );
  } else {
    lines.push(
      renderTable(
        ['entry', 'finding', 'what is wrong'],
        r.findings.map((f) => [f.entry === null ? '—' : String(f.entry), f.kind, f.message]),
        ['right', 'left', 'left'],
      ),
    );
    if (r.findingCount > r.findings.length) lines.push(`… and ${r.findingCount - r.findings.length} more findings`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `audit verify`: prints the report and resolves with it when there is no finding; otherwise
 * throws FedstatError DATA_INVALID (exit 5) whose details carry the report (after printing it
 * as a table; with --json the error's details are the only output).
 */
async function auditVerify(log: string, flags: AuditVerifyFlags, out: Out = stdout): Promise<AuditReport> {
  const federation = federationFor(log, flags.federation);
  const since: SignedTreeHead[] = [];
  for (const f of flags.since ?? []) since.push(...(await readTreeHeadFile(f)));
  const heads = await publishedHeads(log, flags.head);
  const covered = Math.max(0, ...heads.map((h) => h.size));
  if (covered > 0 && !existsSync(log)) {
    throw new FedstatError(
      'IO',
      `${log} is missing, but a tree head published for it covers ${covered} entries: the log was deleted or moved; get it from the log operator (its backup), never audit a fresh one in its place`,
    );
  }
  const ledgers = await ledgersToReconcile(federation, flags.ledger ?? []);
  const report = await verifyAuditLog(log, { federation, heads, since, ledgers });
  if (flags.json !== true || report.ok) out(flags.json === true ? `${toJson(report)}\n` : renderReport(report));
  if (!report.ok) {
    throw new FedstatError(
      'DATA_INVALID',
      `the log does not verify: ${report.findingCount} finding(s); report them to the federation with the log and its tree head`,
      { details: { report } },
    );
  }
  return report;
}

interface AuditShowFlags {
  readonly federation?: string;
  /** An entry index, or a tree head file: show only entries after that head (from its size on). */
  readonly since?: string;
  readonly agency?: string;
  readonly dataset?: string;
  readonly json?: boolean;
}

/** `--since` of show: an entry index, or a tree head file (its largest head's size). */
async function sinceIndex(since: string): Promise<number> {
  if (/^\d+$/.test(since)) return parseIntOption('--since', 0)(since);
  const heads = await readTreeHeadFile(since);
  return Math.max(...heads.map((h) => h.size));
}

/** `audit show`: the log as a table (or JSON rows); returns the number of rows shown. */
async function auditShow(log: string, flags: AuditShowFlags, out: Out = stdout): Promise<number> {
  const federation = flags.federation === undefined ? undefined : loadFederation(flags.federation);
  const options = {
    ...(flags.since === undefined ? {} : { from: await sinceIndex(flags.since) }),
    ...(flags.agency === undefined ? {} : { agency: flags.agency }),
    ...(flags.dataset === undefined ? {} : { dataset: flags.dataset }),
    ...(federation === undefined ? {} : { federation }),
  };
  let n = 0;
  if (flags.json === true) {
    // One JSON array, written row by row so a large log is never held whole.
    out('[');
    for await (const row of auditRows(log, options)) out(`${n++ === 0 ? '\n' : ',\n'}${JSON.stringify(row)}`);
    out(n === 0 ? ']\n' : '\n]\n');
    return n;
  }
  const rows: AuditRow[] = [];
  const flush = (): void => {
    if (rows.length === 0) return;
    out(
      `${renderTable(
        ['#', 'time (UTC)', 'kind', 'who', 'query', 'dataset', 'what'],
        rows.map((r) => [
          String(r.index),
          r.time.replace('T', ' ').replace(/\.\d+Z$/, ''),
          r.kind + (r.verified === false ? ' (FORGED?)' : ''),
          r.who,
          r.queryId.slice(0, 12),
          r.dataset,
          r.what,
        ]),
        ['right'],
      )}\n`,
    );
    rows.length = 0;
  };
  for await (const row of auditRows(log, options)) {
    rows.push(row);
    n++;
    if (rows.length === 1000) flush(); // tables of 1000 rows: bounded memory, aligned enough to read
  }
  flush();
  if (n === 0) out('no entries match\n');
  if (federation === undefined) out('(signatures not checked: pass --federation FILE, or run fedstat audit verify)\n');
  return n;
}

interface AuditProveFlags {
  readonly entry: number;
  readonly federation?: string;
  readonly head?: string;
  readonly json?: boolean;
}

/** `audit prove`: the inclusion proof of one entry under the operator's latest published head. */
async function auditProve(log: string, flags: AuditProveFlags, out: Out = stdout): Promise<EntryProofJson> {
  const federation = federationFor(log, flags.federation);
  // The head asked for (--head), else the one published beside the log.
  const heads = flags.head !== undefined ? await readTreeHeadFile(flags.head) : await publishedHeads(log, undefined);
  if (heads.length === 0) {
    throw new FedstatError(
      'NOT_FOUND',
      `no tree head for ${log}: pass --head FILE with the log operator's signed tree head (or put it in ${treeHeadFileFor(log)})`,
    );
  }
  const head = heads.reduce((a, b) => (b.size > a.size ? b : a));
  const proof = await proveEntry(log, flags.entry, head, logOperator(federation).publicKey);
  if (flags.json === true) out(`${toJson(proof)}\n`);
  else {
    out(
      [
        `entry ${proof.index} of log ${head.logId}`,
        `leaf hash   ${proof.leafHash}  (SHA-256 of 0x00 ‖ entry)`,
        `tree head   size ${head.size}, root ${proof.treeHead.rootHash}, signed ${new Date(head.timestamp).toISOString()}`,
        `audit path  ${proof.auditPath.length} hashes, leaf side first:`,
        ...proof.auditPath.map((h, i) => `  ${i}: ${h}`),
        'pass --json for the self-contained proof (entry bytes, path, signed head) to hand to a third party',
      ].join('\n') + '\n',
    );
  }
  return proof;
}

const collectList = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Adds `fedstat audit verify|show|prove` to `program`. */
export function registerAudit(program: Command): void {
  const audit = program
    .command('audit')
    .description("verify, read and prove entries of a federation's transparency log, offline");
  audit
    .command('verify <log>')
    .description(
      "check every entry's signature and author, the tree heads, consistency with a head you kept, and the release and budget policy; exit 0 only when all holds",
    )
    .option('--federation <file>', 'the federation file (default: federation.json beside the log)')
    .option('--since <file>', 'a tree head you kept earlier (JSON); the log must extend it (repeatable)', collectList)
    .option(
      '--head <file>',
      'a tree head the log operator published (LOG.head.json beside the log is always checked when present)',
    )
    .option(
      '--ledger <agency=file>',
      "reconcile an agency's budget ledger (a copy will do; it is only read) with its budget entries in the log (repeatable)",
      collectList,
    )
    .option('--json', 'print the report as JSON')
    .action(
      action(
        async (
          log: string,
          opts: { federation?: string; since?: string[]; head?: string; ledger?: string[]; json?: boolean },
        ) => {
          await auditVerify(log, opts);
        },
      ),
    );
  audit
    .command('show <log>')
    .description('the log as a table: who asked what, who answered, what was released, budget spent')
    .option('--agency <id>', 'only entries by or naming this party')
    .option('--dataset <name>', 'only entries about queries on this dataset')
    .option('--since <head-or-index>', 'only entries after a tree head you kept (its file) or from an entry index')
    .option('--federation <file>', "check each entry's signature against this federation file")
    .option('--json', 'print the rows as a JSON array')
    .action(
      action(async (log: string, opts: AuditShowFlags) => {
        await auditShow(log, opts);
      }),
    );
  audit
    .command('prove <log>')
    .description(
      "print an inclusion proof of one entry under the log operator's signed tree head, for a third party to check",
    )
    .requiredOption('--entry <n>', 'the entry index (from 0)', parseIntOption('--entry', 0))
    .option('--federation <file>', 'the federation file (default: federation.json beside the log)')
    .option('--head <file>', 'the signed tree head to prove against (default: LOG.head.json)')
    .option('--json', 'print the self-contained proof as JSON')
    .action(
      action(async (log: string, opts: AuditProveFlags) => {
        await auditProve(log, opts);
      }),
    );
}
