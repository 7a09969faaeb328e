/**
 * The baseline's id server, run in a child process of `bench join` (join-baseline.ts starts it):
 * serves one agency's ids in plaintext over gRPC (join-id-wire.ts) with the agency's own mTLS
 * certificate and fedstat's server options, reading them from the agency's Parquet file with
 * DuckDB at every request, as a store would. Prints one JSON line `{"event":"listening","port":N}`
 * when it listens; exits on SIGTERM.
 */
import { once } from 'node:events';
import { Server, type ServerWritableStream } from '@grpc/grpc-js';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadFederation } from '../../src/federation/federation.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { serverCredentials } from '../../src/transport/credentials.js';
import { SERVER_OPTIONS } from '../../src/transport/limits.js';
import { GROUPS } from './join-data.js';
import { encodeChunk, idServiceDefinition, ROWS_PER_CHUNK, type ValueColumn } from './join-id-wire.js';

/** Serves the ids of the agency whose key file is `keyFile` until SIGTERM. */
export async function serveIds(federationFile: string, keyFile: string, parquet: string): Promise<void> {
  const federation = loadFederation(federationFile);
  const secrets = loadKeyFile(keyFile, federation);
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const file = parquet.replace(/'/g, "''");
  const groups = `[${GROUPS.map((g) => `'${g}'`).join(', ')}]`;
  const column = (c: ValueColumn): string =>
    c === 'g' ? `, CAST(list_position(${groups}, g) - 1 AS INTEGER)` : c === 'v' ? ', v' : '';

  const stream = async (call: ServerWritableStream<Buffer, Buffer>): Promise<void> => {
    const asked = call.request.toString('utf8') as ValueColumn;
    if (asked !== 'g' && asked !== 'v' && asked !== '') throw new Error('unknown value column');
    const result = await conn.stream(`SELECT id${column(asked)} FROM read_parquet('${file}')`);
    let ids: string[] = [];
    let values: number[] = [];
    const flush = async (): Promise<void> => {
      if (ids.length === 0) return;
      const ok = call.write(encodeChunk(ids, asked === '' ? null : Int32Array.from(values)));
      ids = [];
      values = [];
      if (!ok) await once(call, 'drain');
    };
    for await (const batch of result.yieldRows()) {
      for (const row of batch) {
        ids.push(String(row[0]));
        if (asked !== '') values.push(Number(row[1]));
      }
      if (ids.length >= ROWS_PER_CHUNK) await flush();
    }
    await flush();
    call.end();
  };

  const server = new Server(SERVER_OPTIONS);
  server.addService(idServiceDefinition, {
    Stream: (call: ServerWritableStream<Buffer, Buffer>) => {
      stream(call).catch((e: unknown) => call.destroy(e instanceof Error ? e : new Error(String(e))));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      serverCredentials(federation, secrets, { insecure: false, host: '127.0.0.1' }),
      (err, p) => (err === null ? resolve(p) : reject(err)),
    ),
  );
  process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
  process.once('SIGTERM', () => {
    server.forceShutdown();
    conn.closeSync();
    instance.closeSync();
    process.exit(0);
  });
}
