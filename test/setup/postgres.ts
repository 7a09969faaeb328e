/**
 * vitest globalSetup: the PostgreSQL server the tests use. With FEDSTAT_TEST_PG set (a libpq URL
 * of a role that may create databases and roles, e.g. the one `npm run pg` prints) the tests use
 * that server; otherwise one throwaway server is started for the run (2 s idle, 4 s loaded) and stopped at
 * its end. Its URL, password included, reaches the test workers as FEDSTAT_TEST_PG: workers
 * inherit the environment this process has when they start, which is after globalSetup.
 */
import { startPgServer, type PgServer } from '../../scripts/pg-server.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.FEDSTAT_TEST_PG !== undefined && process.env.FEDSTAT_TEST_PG !== '') return undefined;
  const server: PgServer = await startPgServer();
  const { host, port, user, password, database } = server.settings;
  const url = new URL(`postgresql://${host}:${port}/${database}`);
  url.username = user;
  url.password = password;
  process.env.FEDSTAT_TEST_PG = url.href;
  return async () => {
    delete process.env.FEDSTAT_TEST_PG;
    await server.stop();
  };
}
