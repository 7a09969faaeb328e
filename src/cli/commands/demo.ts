import type { Command } from 'commander';
import { DEFAULT_DEMO_ROWS, runDemo, type DemoReport } from '../../demo/run-demo.js';
import { FedstatError } from '../../errors.js';
import { toJson } from '../json.js';
import { progressBar } from '../progress.js';
import { action, parseIntOption } from '../run.js';
import { queryJson, renderPrediction, renderResult } from './query.js';
import { formatInteger, formatMs, formatNumber, renderTable } from '../table.js';
import type { PrivacyShowcase } from '../../demo/privacy-showcase.js';
import type { ModelShowcase } from '../../demo/model-showcase.js';
import type { NetworkShowcase } from '../../demo/network-showcase.js';
import { displayCanonicalRho } from '../../dp/rho.js';
import { learningCurveSvg } from '../learning-curve-plot.js';
import { roundLine, trainJson } from './train-output.js';
import { networkRoundLine } from './train-network-output.js';
import { linkageJson, printLinkage } from './demo-linkage-output.js';

function printHuman(report: DemoReport): void {
  const w = (s: string): boolean => process.stdout.write(`${s}\n`);
  w('');
  w(
    renderTable(
      ['agency', 'name', 'dataset', 'rows', 'port'],
      report.agencies.map((a) => [a.id, a.name, a.dataset, formatInteger(a.rows), String(a.port)]),
      ['left', 'left', 'left', 'right', 'right'],
    ),
  );
  w(
    `\nfederation ${report.federationId.slice(0, 16)}… ready in ${formatMs(report.setupMs)}. Every number below was computed under BFV encryption:`,
  );
  w('agencies sent only signed ciphertexts; only the sum over agencies was decrypted.');
  report.showcases.forEach((s, i) => {
    w(`\n━━ ${i + 1}. ${s.showcase.title}`);
    w(`   ${s.showcase.english}`);
    if (s.skipped !== null) {
      w(`   skipped: ${s.skipped}`);
      return;
    }
    for (const q of s.queries) {
      w(`\n${q.sql}`);
      w(renderResult(q.result));
      w(
        q.mismatch === null
          ? `check: ✓ identical to the plaintext computed from the seed files (${q.result.rows.length} rows, ${q.result.suppressed} withheld)`
          : `check: ✗ MISMATCH with the plaintext computation: ${q.mismatch}`,
      );
    }
    if (s.indicator !== null && s.showcase.indicator !== undefined) {
      const ind = s.showcase.indicator;
      w(`\n${ind.description} (computed by the coordinator from the two released tables):`);
      w(
        renderTable(
          [ind.joinOn, ind.numerator, ind.denominator, ind.name],
          s.indicator.map((r) => [r.key, formatInteger(r.numerator), formatInteger(r.denominator), r.value.toFixed(1)]),
          ['left', 'right', 'right', 'right'],
        ),
      );
    }
  });
  if (report.privacy !== null) printPrivacy(report.privacy, report.showcases.length + 1, w);
  const modelSection = report.showcases.length + (report.privacy === null ? 1 : 2);
  printModel(report.model, modelSection, w);
  printNetwork(report.network, modelSection + 1, w);
  printLinkage(report.linkage, modelSection + 2, w);
  const a = report.audit;
  const kinds = Object.entries(a.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  w(`\n━━ the transparency log, verified as an auditor would (fedstat audit verify ${a.file})`);
  w(
    a.ok
      ? `✓ ${a.size} signed entries (${kinds}); every signature, author role, tree head and the release and budget policy hold;\n  the log extends each of the ${report.agencyHeads} tree heads the agencies accepted (they checked one with every query)`
      : `✗ ${a.findingCount} findings: ${a.findings
          .slice(0, 3)
          .map((f) => `${f.entry === null ? '' : `entry ${f.entry}: `}${f.message}`)
          .join('; ')}`,
  );
  const checks = report.showcases.flatMap((s) => s.queries);
  w(
    `\n${report.allChecksPassed ? '✓' : '✗'} ${checks.filter((q) => q.mismatch === null).length} of ${checks.length} encrypted results match the plaintext; demo took ${formatMs(report.totalMs)}`,
  );
}

function modelJson(m: ModelShowcase | { skipped: string }): object {
  if ('skipped' in m) return m;
  return {
    check: m.mismatch === null ? 'ok' : m.mismatch,
    ...trainJson(m.result),
    truth: m.rows,
    covered: m.covered,
    withTruth: m.withTruth,
    trainMs: m.trainMs,
    modelFile: m.modelFile,
    prediction: {
      agency: m.prediction.agency,
      file: m.prediction.file,
      out: m.prediction.out,
      ...m.prediction.summary,
      observed: m.prediction.observed,
      expected: m.prediction.expected,
    },
  };
}

function printPrivacy(p: PrivacyShowcase, n: number, w: (s: string) => boolean): void {
  w(`\n━━ ${n}. 差分隐私发布：各区登记人数与平均年龄（含噪声与95%置信区间）`);
  w(
    '   Differential privacy: each agency charged its own budget and added Skellam noise before encrypting; nobody, not even the key authority, saw the exact totals.',
  );
  w(`\n${p.sql}   (--rho ${p.result.privacy?.rho ?? ''})`);
  w(renderResult(p.result));
  const exact = new Map(p.exact.map((r) => [r['district'], r]));
  w('\nnext to the exact values (demo only: computed from the seed files, which no party of a real federation holds):');
  w(
    renderTable(
      ['district', 'released', '95% CI', 'exact', 'avg_age', '95% CI', 'exact'],
      p.result.rows.map((row, i) => {
        const e = exact.get(row['district']);
        const u = p.result.uncertainty?.[i];
        const ci = (alias: string): string => {
          const c = u?.[alias]?.ci95;
          return c === undefined ? '' : `${formatNumber(c[0])} – ${formatNumber(c[1])}`;
        };
        return [
          String(row['district']),
          formatNumber(row['registered'] ?? ''),
          ci('registered'),
          formatNumber(e?.['registered'] ?? ''),
          formatNumber(row['avg_age'] ?? ''),
          ci('avg_age'),
          formatNumber(e?.['avg_age'] ?? ''),
        ];
      }),
      ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  w(
    `${p.covered} of ${p.aggregates} intervals hold the exact value (95 % intervals: about 1 in 20 may miss); ${p.outOfBound.length === 0 ? "✓ every count within the noise's 2^-100 tail bound" : `✗ outside the tail bound: ${p.outOfBound.join(', ')}`}`,
  );
  w('\nprivacy budget, as each agency reports it from its own ledger (fedstat budget):');
  w(
    renderTable(
      ['agency', 'spent', 'remaining'],
      p.budgets.map((b) => [b.agency, b.spent, b.remaining]),
      ['left', 'right', 'right'],
    ),
  );
  w(`\na dry run of the same query at rho ${p.overspendRho} (fedstat query --dry-run):`);
  w(renderPrediction(p.overspend));
}

/** A coefficient with four significant digits, in exponent form when small (as R prints 1.2e-04). */
function coefficientText(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toFixed(4);
}

function printModel(m: ModelShowcase | { skipped: string }, n: number, w: (s: string) => boolean): void {
  w(`\n━━ ${n}. 联邦建模：参保的逻辑回归，与生成数据所用的真实系数对照`);
  w(
    '   Federated learning: a logistic regression trained across the HR/social-insurance bureaus. Each Newton round was a query like those above:',
  );
  w('   signed, logged, masked and encrypted, with only the total sums over agencies decrypted.');
  if ('skipped' in m) {
    w(`   skipped: ${m.skipped}`);
    return;
  }
  const r = m.result;
  const model = r.model;
  w(`\nbinomial ${model.formula}`);
  w(
    `${formatInteger(model.n)} rows of ${model.dataset} from ${r.agencies.answered.length} agencies (${r.agencies.answered.join(', ')}); ${r.rounds.length} rounds in ${formatMs(m.trainMs)}`,
  );
  for (const round of r.rounds) w(`  ${roundLine(round)}`);
  w('\nthe fitted coefficients beside the ground truth (demo only: scenario.json groundTruth, which drew the labels):');
  w(
    renderTable(
      ['term', 'estimate', '95% CI', 'truth', 'inside'],
      m.rows.map((t) => [
        t.term,
        coefficientText(t.estimate),
        `${coefficientText(t.ci95[0])} – ${coefficientText(t.ci95[1])}`,
        t.truth === null ? '' : coefficientText(t.truth),
        t.inside === null ? '' : t.inside ? '✓' : '✗',
      ]),
      ['left', 'right', 'right', 'right', 'left'],
    ),
  );
  const levels = Object.entries(model.referenceLevels)
    .map(([column, level]) => `${column} ${level}`)
    .join(', ');
  w(
    `reference levels: ${levels}; residual deviance ${model.deviance.toFixed(2)} on ${formatInteger(model.dfResidual)} degrees of freedom, AIC ${model.aic.toFixed(2)}`,
  );
  w(`${m.covered} of ${m.withTruth} intervals hold the true coefficient (95 % intervals: about 1 in 20 may miss)`);
  w(
    m.mismatch === null
      ? `check: ✓ equal to the fit of the pooled seed files in one process, to 1e-6 relative (estimates, standard errors, deviance)`
      : `check: ✗ MISMATCH with the fit of the pooled seed files: ${m.mismatch}`,
  );
  const p = m.prediction;
  w(`\n${p.agency} scores its own file with the model, on its own machine (fedstat predict; nothing is sent):`);
  const f = p.summary.fitted;
  w(
    `${formatInteger(p.summary.rows)} rows of ${p.file} → ${p.out}${f === null ? '' : `; fitted probability mean ${f.mean.toFixed(4)}, min ${f.min.toFixed(4)}, max ${f.max.toFixed(4)}`}`,
  );
  const [header = [], ...rows] = p.preview;
  const shown = ['district', 'sex', 'age', 'sector', 'monthly_income', 'months_resident', 'insured', 'fitted'];
  const at = shown.map((c) => header.indexOf(c));
  w(
    renderTable(
      shown,
      rows.map((row) => at.map((i, k) => (k === shown.length - 1 ? Number(row[i]).toFixed(4) : (row[i] ?? '')))),
      ['left', 'left', 'right', 'left', 'right', 'right', 'left', 'right'],
    ),
  );
  w(
    `insured in the file: ${formatInteger(p.observed)}; the model expects ${p.expected.toFixed(1)} (the sum of the fitted probabilities)`,
  );
  w(`model written to ${m.modelFile} (MODEL.json, as fedstat train --out writes it; demo --out DIR keeps it)`);
}

function networkJson(s: NetworkShowcase | { skipped: string }): object {
  if ('skipped' in s) return s;
  const r = s.result;
  return {
    check: s.mismatch === null ? 'ok' : s.mismatch,
    spec: s.spec,
    rho: s.rho,
    privacy: s.privacy,
    curve: r.curve,
    finalAuc: r.curve.at(-1)?.metric ?? null,
    glmAuc: s.glmAuc,
    ledgers: s.ledgers,
    lostRounds: r.lostRounds,
    failed: r.failed,
    log: r.model.rounds.map((x) => ({ round: x.round, queryId: x.queryId, index: x.logIndexes[0] ?? null })),
    trainMs: s.trainMs,
    curveFile: s.curveFile,
  };
}

function printNetwork(s: NetworkShowcase | { skipped: string }, n: number, w: (text: string) => boolean): void {
  w(`\n━━ ${n}. 联邦神经网络：记录级差分隐私的联邦平均（参保预测）`);
  w(
    '   Federated averaging with record-level differential privacy: a small neural network trained across the same bureaus. Each round every bureau',
  );
  w(
    "   charged its own ledger, clipped each record's gradient, added its share of Skellam noise, masked and encrypted; only the sum was decrypted.",
  );
  if ('skipped' in s) {
    w(`   skipped: ${s.skipped}`);
    return;
  }
  const r = s.result;
  const p = s.privacy;
  const agencies = r.curve.at(-1)?.agencies ?? [];
  w(
    `\nMLP hidden ${(s.spec.hidden ?? []).join(',')} (${s.spec.activation ?? 'tanh'}), ${r.model.formula}, by ${s.spec.strategy ?? 'fedavg'}`,
  );
  w(
    `${agencies.length} agencies (${agencies.join(', ')}); ${r.curve.length} rounds (${s.spec.rounds ?? 0} DP-SGD steps and one evaluation round) in ${formatMs(s.trainMs)}`,
  );
  r.curve.forEach((point, i) => w(`  ${networkRoundLine(point, s.roundMs[i] ?? 0)}`));
  const auc = r.curve.at(-1)?.metric ?? null;
  w(
    `\nheld-out AUC of the MLP: ${auc === null ? '—' : auc.toFixed(4)}${s.glmAuc === null ? '' : `; the exact GLM above, on the same held-out records: ${s.glmAuc.toFixed(4)} (demo only: scored here from the seed files)`}`,
  );
  w(
    `privacy: rho ${displayCanonicalRho(p.rho)} at each bureau over ${p.rounds} rounds (${displayCanonicalRho(p.rhoPerRound)} each), i.e. (${p.epsilon.toFixed(3)}, ${p.delta})-DP for every person in the data`,
  );
  w(
    renderTable(
      ['agency', 'spent before', 'spent after', 'charges'],
      s.ledgers.map((l) => [l.agency, displayCanonicalRho(l.before), displayCanonicalRho(l.after), String(l.charges)]),
      ['left', 'right', 'right', 'right'],
    ),
  );
  w(
    s.mismatch === null
      ? `check: ✓ every bureau's ledger charged exactly rho ${displayCanonicalRho(p.rho)} in ${p.rounds} charges; the curve has one point per round, ε never falling, ending at ${p.epsilon.toFixed(3)}`
      : `check: ✗ ${s.mismatch}`,
  );
  if (s.curveFile !== null) w(`learning curve drawn to ${s.curveFile} (next to model.json; demo --out DIR keeps it)`);
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'seed a synthetic province, start its agencies on 127.0.0.1, and run encrypted showcase statistics checked against plaintext',
    )
    .option(
      '--agencies <n>',
      'number of agencies (department by department; default: all of the scenario)',
      parseIntOption('--agencies', 3, 64),
    )
    .option(
      '--rows <n>',
      'residence registrations in 成都市 (the other cities in proportion)',
      parseIntOption('--rows', 100, 10_000_000),
      DEFAULT_DEMO_ROWS,
    )
    .option('--seed <s>', 'seed for the synthetic data', 'fedstat-demo')
    .option('--out <dir>', 'keep the generated data and federation in this folder')
    .option('--json', 'print the report as JSON')
    .action(
      action(async (opts: { agencies?: number; rows: number; seed: string; out?: string; json?: boolean }) => {
        const json = opts.json === true;
        const bar = progressBar('seeding', { json });
        const report = await runDemo({
          rows: opts.rows,
          seed: opts.seed,
          ...(opts.agencies === undefined ? {} : { agencies: opts.agencies }),
          ...(opts.out === undefined ? {} : { outDir: opts.out }),
          onSeedProgress: (done, total) => bar.update(done, total, 'rows'),
          drawCurve: learningCurveSvg,
          onStep: (m) => {
            bar.done();
            if (!json) process.stderr.write(`• ${m}\n`);
          },
        });
        if (json) {
          process.stdout.write(
            `${toJson({
              federationId: report.federationId,
              agencies: report.agencies,
              allChecksPassed: report.allChecksPassed,
              setupMs: report.setupMs,
              totalMs: report.totalMs,
              showcases: report.showcases.map((s) => ({
                title: s.showcase.title,
                english: s.showcase.english,
                skipped: s.skipped,
                indicator: s.indicator,
                queries: s.queries.map((q) => ({
                  sql: q.sql,
                  check: q.mismatch === null ? 'ok' : q.mismatch,
                  ...(queryJson(q.result) as object),
                })),
              })),
              audit: {
                ok: report.audit.ok,
                file: report.audit.file,
                size: report.audit.size,
                counts: report.audit.counts,
                findings: report.audit.findings,
              },
              privacy:
                report.privacy === null
                  ? null
                  : {
                      sql: report.privacy.sql,
                      ...(queryJson(report.privacy.result) as object),
                      exact: report.privacy.exact,
                      covered: report.privacy.covered,
                      aggregates: report.privacy.aggregates,
                      outOfBound: report.privacy.outOfBound,
                      budgets: report.privacy.budgets,
                      overspend: { rho: report.privacy.overspendRho, ...report.privacy.overspend },
                    },
              model: modelJson(report.model),
              network: networkJson(report.network),
              linkage: linkageJson(report.linkage),
            })}\n`,
          );
        } else {
          printHuman(report);
        }
        if (!report.allChecksPassed)
          throw new FedstatError(
            'INTERNAL',
            'an encrypted result, the federated model or a privacy ledger differs from what was expected; please report this',
          );
      }),
    );
}
