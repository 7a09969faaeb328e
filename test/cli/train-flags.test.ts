/**
 * `fedstat train`'s flags, run in process through commander as main.ts runs them: every bad flag or
 * combination stops the command before anything is opened (one line naming the flag and the fix,
 * exit code 3 for configuration, 4 for a bad ρ as `query` gives it), with `--json` the error as a
 * JSON document; good flags become the spec and options `Coordinator.train` takes. The resume hint
 * repeats the flags given on the command line and appears only where resuming can help.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerTrain } from '../../src/cli/commands/train.js';
import { resumeCommand, withResumeHint } from '../../src/cli/commands/train-common.js';
import { trainRequest } from '../../src/cli/commands/train-flags.js';
import type { TrainCliOptions } from '../../src/cli/commands/train-flags.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { reportError } from '../../src/cli/run.js';
import { FedstatError } from '../../src/errors.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-train-flags-'));
  writeFileSync(join(dir, 'old.ckpt'), '{}\n');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** The program main.ts builds, with only `train` (usage errors exit 2, as main.ts maps them). */
function program(): Command {
  const p = new Command('fedstat').option('--verbose').exitOverride();
  registerTrain(p);
  return p;
}

/** Runs `fedstat train ARGS` in process; returns exit code, stdout and stderr. */
async function train(...args: string[]): Promise<{ code: number; out: string; err: string }> {
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
  process.exitCode = undefined;
  try {
    await program().parseAsync(['node', 'fedstat', 'train', ...args]);
  } catch (e) {
    process.exitCode = e instanceof CommanderError ? EXIT.USAGE : reportError(e, {});
  } finally {
    vi.restoreAllMocks();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, out, err };
}

const base = (): string[] => [
  '--federation',
  join(dir, 'federation.json'),
  '--dataset',
  'workers',
  '--family',
  'binomial',
  '--formula',
  'insured ~ age + sex',
];

/** `base()` with `--family` replaced. */
const withFamily = (family: string): string[] => base().map((a, i, all) => (all[i - 1] === '--family' ? family : a));

describe('fedstat train flags', () => {
  it.each([
    ['binomal', 'fedstat: --family "binomal" is not a family fedstat fits; did you mean --family binomial?'],
    ['Poison', 'fedstat: --family "Poison" is not a family fedstat fits; did you mean --family poisson?'],
    ['logistic', 'fedstat: --family "logistic" is not a family fedstat fits; for that model write --family binomial'],
    ['gamma', 'fedstat: --family "gamma" is not a family fedstat fits; use one of binomial, gaussian, poisson'],
  ])('refuses --family %s with the fix', async (family, line) => {
    const r = await train(...withFamily(family));
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.err).toBe(`${line}\n`);
    expect(r.out).toBe('');
  });

  it('takes the family in any case', () => {
    const opts: TrainCliOptions = {
      federation: 'f.json',
      dataset: 'workers',
      family: 'Gaussian',
      formula: 'age ~ sex',
      deadline: 30_000,
    };
    expect(trainRequest(opts).spec.family).toBe('gaussian');
  });

  it.each([
    [['--resume'], '--resume continues the fit saved in a checkpoint; add --checkpoint FILE'],
    [['--rho', '0.5', '--tolerance', '1e-6'], '--tolerance does not apply with --rho'],
    [['--rho', '0.5', '--max-rounds', '10'], '--max-rounds does not apply with --rho'],
    [['--dp-rounds', '4'], '--dp-rounds sets the rounds of a differentially private fit; add --rho RHO'],
    [['--ridge', '-1'], '--ridge must be a decimal number at least 0; got "-1"'],
    [['--ridge', 'lots'], '--ridge must be a decimal number at least 0; got "lots"'],
    [['--tolerance', '0'], '--tolerance must be a decimal number above 0 and below 1; got "0"'],
    [['--max-rounds', '0'], '--max-rounds must be an integer from 1 to 1000; got "0"'],
    [['--retries', 'two'], '--retries must be an integer from 0 to 100; got "two"'],
    [['--formula', '  '], '--formula is empty; write the model as R does'],
  ])('refuses %j before connecting', async (extra, message) => {
    const r = await train(...base(), ...extra);
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.err).toContain(`fedstat: ${message}`);
    expect(r.err.split('\n')).toHaveLength(2);
  });

  it('refuses a bad --rho as query does (exit 4)', async () => {
    const r = await train(...base(), '--rho', '1/3');
    expect(r.code).toBe(EXIT.QUERY);
    expect(r.err).toBe(
      'fedstat: --rho 1/3 is not a decimal of at most 12 places; give a fraction whose denominator divides 10^12, such as --rho 1/40\n',
    );
  });

  it('checks the checkpoint and model paths before the fit, not after it', async () => {
    const missing = join(dir, 'nowhere', 'fit.ckpt');
    const old = join(dir, 'old.ckpt');
    const cases: [string[], string][] = [
      [['--checkpoint', missing], `--checkpoint ${missing}: the folder ${join(dir, 'nowhere')} does not exist`],
      [
        ['--checkpoint', join(dir, 'new.ckpt'), '--resume'],
        `--resume: there is no checkpoint at ${join(dir, 'new.ckpt')}`,
      ],
      [['--checkpoint', old], `--checkpoint ${old} already holds a fit; add --resume to continue it`],
      [['--out', join(dir, 'nowhere', 'm.json')], `the folder ${join(dir, 'nowhere')} does not exist`],
      [['--checkpoint', old, '--resume', '--out', old], `--out ${old} is the checkpoint file`],
    ];
    for (const [extra, message] of cases) {
      const r = await train(...base(), ...extra);
      expect(r.code, extra.join(' ')).toBe(EXIT.CONFIG);
      expect(r.err).toContain(message);
    }
  });

  it('prints the error as JSON on stdout with --json', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const p = program();
    const opts = ['--json', '--resume'];
    await p.parseAsync(['node', 'fedstat', 'train', ...base(), ...opts]);
    vi.restoreAllMocks();
    expect(process.exitCode).toBe(EXIT.CONFIG);
    const doc = JSON.parse(out) as { error: { code: string; message: string } };
    expect(doc.error.code).toBe('CONFIG_INVALID');
    expect(doc.error.message).toMatch(/^--resume continues the fit saved in a checkpoint/);
  });

  it('turns good flags into the spec and options of Coordinator.train', () => {
    const exact = trainRequest({
      federation: 'f.json',
      dataset: 'workers',
      family: 'poisson',
      formula: 'visits ~ age + offset(log(months))',
      where: "sex = '女'",
      ridge: '0.5',
      tolerance: '1e-10',
      maxRounds: 12,
      retries: 0,
      deadline: 5_000,
      threshold: 2,
      allowDropouts: true,
    });
    expect(exact).toEqual({
      spec: {
        dataset: 'workers',
        family: 'poisson',
        formula: 'visits ~ age + offset(log(months))',
        where: "sex = '女'",
        ridge: 0.5,
        tolerance: 1e-10,
        maxRounds: 12,
      },
      options: { resume: false, allowDropouts: true, retries: 0, threshold: 2, deadlineMs: 5_000 },
    });
    const dp = trainRequest({
      federation: 'f.json',
      dataset: 'workers',
      family: 'binomial',
      formula: 'insured ~ age',
      rho: '0.6',
      dpRounds: 4,
      checkpoint: join(dir, 'old.ckpt'),
      resume: true,
      deadline: 30_000,
    });
    expect(dp.options).toEqual({
      privacy: { rho: { num: 3n, den: 5n }, rounds: 4 },
      checkpoint: join(dir, 'old.ckpt'),
      resume: true,
      allowDropouts: false,
      deadlineMs: 30_000,
    });
  });
});

describe('resuming a stopped fit', () => {
  /** The parsed `train` command of `fedstat train ARGS`, its action replaced by a no-op. */
  async function parsed(args: readonly string[]): Promise<Command> {
    const p = program();
    const cmd = p.commands.find((c) => c.name() === 'train') as Command;
    cmd.action(() => undefined);
    await p.parseAsync(['node', 'fedstat', 'train', ...args]);
    return cmd;
  }

  it('repeats the flags given, quoted for the shell, with --checkpoint FILE --resume', async () => {
    const cmd = await parsed([
      ...base(),
      '--where',
      "sector = '建筑业'",
      '--rho',
      '1/2',
      '--retries',
      '3',
      '--allow-dropouts',
      '--checkpoint',
      'fit.ckpt',
    ]);
    expect(resumeCommand(cmd, 'fit.ckpt')).toBe(
      `fedstat train --federation ${join(dir, 'federation.json')} --dataset workers --family binomial ` +
        `--formula 'insured ~ age + sex' --where 'sector = '\\''建筑业'\\''' --rho 1/2 --allow-dropouts --retries 3 ` +
        '--checkpoint fit.ckpt --resume',
    );
  });

  it('adds the hint only with the checkpoint on disk, for a cause that can go away, once', async () => {
    const ckpt = join(dir, 'old.ckpt');
    const cmd = await parsed([...base(), '--checkpoint', ckpt, '--resume']);
    const lost = new FedstatError('UNAVAILABLE', 'agency dy-hrss did not answer round 4 after 2 retries', {
      details: { agency: 'dy-hrss' },
    });
    const hinted = withResumeHint(lost, ckpt, cmd) as FedstatError;
    expect(hinted.code).toBe('UNAVAILABLE');
    expect(hinted.message).toBe(`${lost.message}; resume with: ${resumeCommand(cmd, ckpt)}`);
    expect(hinted.details).toEqual({ agency: 'dy-hrss' });
    expect(hinted.cause).toBe(lost);

    expect(withResumeHint(lost, undefined, cmd)).toBe(lost);
    expect(withResumeHint(lost, join(dir, 'gone.ckpt'), cmd)).toBe(lost);
    const said = hinted;
    expect(withResumeHint(said, ckpt, cmd)).toBe(said);
    const separation = new FedstatError('QUERY_INVALID', 'perfect separation by sector建筑业; drop the term');
    expect(withResumeHint(separation, ckpt, cmd)).toBe(separation);
  });
});
