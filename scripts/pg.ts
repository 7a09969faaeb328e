/**
 * `npm run pg`: a throwaway PostgreSQL server in the foreground for developers. Prints the
 * settings to export (the password stays in a 0600 pgpass file: PGPASSFILE) and writes them to
 * env.sh in the server's folder; Ctrl-C stops the server and removes the folder.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../src/errors.js';
import { startPgServer } from './pg-server.js';

async function main(): Promise<void> {
  const server = await startPgServer();
  const { host, port, user, database } = server.settings;
  const env = [
    `export PGHOST=${host} PGPORT=${port} PGUSER=${user} PGDATABASE=${database}`,
    `export PGPASSFILE=${server.pgpassFile}`,
    // Without a password: the tests take it from PGPASSFILE, like libpq.
    `export FEDSTAT_TEST_PG=postgresql://${user}@${host}:${port}/${database}`,
  ].join('\n');
  const envFile = join(server.dir, 'env.sh');
  writeFileSync(envFile, `${env}\n`, { mode: 0o600 });
  process.stdout.write(
    `PostgreSQL ${server.version} on ${host}:${port}, running as ${server.runAs.user}; data in ${server.dir}\n\n` +
      `${env}\n\n# or: source ${envFile}\n# psql, npm test and fedstat agency serve --dataset NAME=postgres:TABLE use it. Ctrl-C stops it.\n`,
  );
  const stop = (): void => {
    void server.stop().then(() => {
      process.stdout.write('stopped; folder removed\n');
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  setInterval(() => undefined, 1 << 30); // keep running until a signal
}

main().catch((e: unknown) => {
  process.stderr.write(`error: ${describeError(e)}\n`);
  process.exitCode = 1;
});
