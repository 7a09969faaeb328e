/**
 * A provincial coordinator's script: one cross-region question asked of every city's
 * public-security bureau at once, answered under homomorphic encryption.
 *
 *   node dist/examples/cross-region-query.js --federation fed/federation.json
 *
 * The coordinator and key-authority key files are found in keys/ beside the federation file.
 */
import { parseArgs } from 'node:util';
import { connectCoordinator } from 'fedstat/coordinator';
import { isFedstatError } from 'fedstat';

const { values } = parseArgs({ options: { federation: { type: 'string' } } });
if (values.federation === undefined) {
  console.error('usage: cross-region-query --federation FILE');
  process.exit(2);
}

await using coordinator = await connectCoordinator({ federation: values.federation });

try {
  // Long-term migrants (resident six months or more) by city: one row per region.
  const byCity = await coordinator.query(
    'SELECT city, COUNT(*) AS long_term, AVG(age) AS avg_age FROM residence_registrations WHERE months_resident >= 6 GROUP BY city',
    { requireAll: true },
  );
  console.log(
    `query ${byCity.queryId}: ${byCity.agencies.answered.length} bureaus answered (${byCity.agencies.answered.join(', ')})`,
  );
  for (const row of byCity.rows) {
    console.log(`${String(row['city'])}\t${String(row['long_term'])}\t${Number(row['avg_age']).toFixed(1)}`);
  }
  // The province-wide share of long-term residents, from two encrypted totals.
  const all = await coordinator.query('SELECT COUNT(*) AS n FROM residence_registrations');
  const longTerm = byCity.rows.reduce((s, r) => s + (r['long_term'] as bigint), 0n);
  const total = all.rows[0]?.['n'] as bigint;
  console.log(
    `province: ${longTerm} of ${total} registered migrants (${((Number(longTerm) / Number(total)) * 100).toFixed(1)}%) are long-term residents`,
  );

  // The same table with differential privacy: each bureau charges rho = 0.05 to its own budget and
  // adds noise before encrypting, so not even the key authority sees the exact counts. Every
  // released number carries its 95 % interval.
  const noisy = await coordinator.query(
    'SELECT city, COUNT(*) AS long_term FROM residence_registrations WHERE months_resident >= 6 GROUP BY city',
    { requireAll: true, privacy: { rho: '0.05' } },
  );
  console.log(
    `privacy: rho ${noisy.privacy?.rho ?? ''} per bureau, (${noisy.privacy?.epsilon.toFixed(2) ?? ''}, ${noisy.privacy?.delta ?? ''})-DP`,
  );
  noisy.rows.forEach((row, i) => {
    const ci = noisy.uncertainty?.[i]?.['long_term']?.ci95;
    console.log(`${String(row['city'])}\t${String(row['long_term'])}\t[${String(ci?.[0])}, ${String(ci?.[1])}]`);
  });
} catch (e) {
  // Every failure is a FedstatError with a code and a one-line message that says what to do.
  if (isFedstatError(e)) {
    console.error(`${e.code}: ${e.message}`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
