/**
 * `bench join`'s baseline: the same join done in plaintext over the same gRPC path. Every agency
 * runs a bench-only id server (join-id-server.ts, its own process, its own mTLS certificate) that
 * streams its ids, with `g` or `v` beside them, to the coordinator in this process, which joins
 * them in a hash set and counts per group. Same data, same channel options, same credentials as
 * fedstat's links; no PSI and no encryption.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Client, type ClientReadableStream } from '@grpc/grpc-js';
import type { Federation } from '../../src/federation/federation.js';
import type { PartySecrets } from '../../src/federation/key-file.js';
import { channelCredentials, channelOptionsFor } from '../../src/transport/credentials.js';
import { CHANNEL_OPTIONS } from '../../src/transport/limits.js';
import { GROUPS, type AgencyFiles, type GroupTotals, type Side } from './join-data.js';
import { decodeChunk, ID_STREAM_PATH, type ValueColumn } from './join-id-wire.js';
import { serveIds } from './join-id-server.js';

const SERVER_MODULE = new URL(`./join-id-server${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)
  .href;
/** The child's program: serveIds(FEDERATION, KEY_FILE, PARQUET) from its arguments; an error is one line. */
const SERVER_PROGRAM = `import { ${serveIds.name} } from ${JSON.stringify(SERVER_MODULE)};
${serveIds.name}(...process.argv.slice(1)).catch((e) => {
  process.stderr.write(String(e?.message ?? e) + '\\n');
  process.exit(1);
});`;
const STREAM_DEADLINE_MS = 10 * 60_000;

/** One agency's id server process. */
interface IdServer {
  readonly id: string;
  readonly side: Side;
  readonly port: number;
  readonly child: ChildProcess;
}

async function startIdServer(federationFile: string, keyFile: string, files: AgencyFiles): Promise<IdServer> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', SERVER_PROGRAM, federationFile, keyFile, files.parquet],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const ev = JSON.parse(line) as { event?: string; port?: number };
      if (ev.event === 'listening' && typeof ev.port === 'number') resolve(ev.port);
    });
    child.once('exit', (code) =>
      reject(new Error(`baseline id server of ${files.id} exited (${code}): ${stderr.trim()}`)),
    );
  });
  return { id: files.id, side: files.side, port, child };
}

/** What one baseline join took: its totals and the bytes the coordinator received. */
export interface BaselineRun {
  readonly totals: GroupTotals;
  /** Bytes each agency's server sent (chunks as on the wire, before gRPC framing). */
  readonly bytes: Readonly<Record<string, number>>;
}

/** The baseline's servers and the coordinator's clients to them. */
export class PlaintextJoin implements AsyncDisposable {
  private constructor(
    private readonly servers: readonly IdServer[],
    private readonly clients: ReadonlyMap<string, Client>,
  ) {}

  /** One id server per agency, and an mTLS client to each from the coordinator's key file. */
  static async start(
    federation: Federation,
    coordinator: PartySecrets,
    agencies: readonly { readonly files: AgencyFiles; readonly keyFile: string }[],
  ): Promise<PlaintextJoin> {
    const settled = await Promise.allSettled(agencies.map((a) => startIdServer(federation.file, a.keyFile, a.files)));
    const servers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) {
      for (const s of servers) s.child.kill('SIGTERM');
      throw failed.reason;
    }
    const clients = new Map(
      servers.map((s) => [
        s.id,
        new Client(
          `127.0.0.1:${s.port}`,
          channelCredentials(federation, coordinator, { insecure: false, endpointHost: '127.0.0.1' }),
          { ...CHANNEL_OPTIONS, ...channelOptionsFor(s.id) },
        ),
      ]),
    );
    return new PlaintextJoin(servers, clients);
  }

  /** `SELECT g, COUNT(*) FROM a x WHERE NOT EXISTS (… b y WHERE y.id = x.id) GROUP BY g`. */
  anti(): Promise<BaselineRun> {
    return this.join('');
  }

  /** `SELECT x.g, COUNT(*), SUM(y.v) FROM a x JOIN b y ON x.id = y.id GROUP BY x.g`. */
  inner(): Promise<BaselineRun> {
    return this.join('v');
  }

  /**
   * Streams every agency at once; b's ids (with v for the inner join) go into a hash map as they
   * arrive, a's (id, g) chunks wait, then probe it: a miss counts for the anti-join, a hit counts
   * and adds v for the inner join. Sums stay below 2^53 (10M × 100).
   */
  private async join(bColumn: ValueColumn): Promise<BaselineRun> {
    const anti = bColumn === '';
    const table = new Map<string, number>();
    const aChunks: { ids: string[]; values: Int32Array }[] = [];
    const bytes: Record<string, number> = {};
    await Promise.all(
      this.servers.map((s) =>
        this.stream(s.id, s.side === 'a' ? 'g' : bColumn, (chunk) => {
          bytes[s.id] = (bytes[s.id] ?? 0) + chunk.length;
          const decoded = decodeChunk(chunk, s.side === 'a' || !anti);
          if (s.side === 'a') aChunks.push(decoded);
          else decoded.ids.forEach((id, i) => table.set(id, decoded.values[i] ?? 0));
        }),
      ),
    );
    const counts = new Array<number>(GROUPS.length).fill(0);
    const sums = new Array<number>(GROUPS.length).fill(0);
    for (const { ids, values } of aChunks) {
      for (let i = 0; i < ids.length; i++) {
        const v = table.get(ids[i] ?? '');
        const code = values[i] ?? 0;
        if (anti) {
          if (v === undefined) counts[code] = (counts[code] ?? 0) + 1;
        } else if (v !== undefined) {
          counts[code] = (counts[code] ?? 0) + 1;
          sums[code] = (sums[code] ?? 0) + v;
        }
      }
    }
    const totals: Record<string, bigint[]> = {};
    GROUPS.forEach((g, code) => {
      const n = BigInt(counts[code] ?? 0);
      if (n > 0n) totals[g] = anti ? [n] : [n, BigInt(sums[code] ?? 0)];
    });
    return { totals, bytes };
  }

  private async stream(agency: string, column: ValueColumn, onChunk: (chunk: Buffer) => void): Promise<void> {
    const client = this.clients.get(agency);
    if (client === undefined) throw new Error(`no baseline client for ${agency}`);
    const call: ClientReadableStream<Buffer> = client.makeServerStreamRequest(
      ID_STREAM_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(column, 'utf8'),
      { deadline: new Date(Date.now() + STREAM_DEADLINE_MS) },
    );
    call.on('data', onChunk);
    await once(call, 'end');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const c of this.clients.values()) c.close();
    await Promise.all(
      this.servers.map(async (s) => {
        if (s.child.exitCode !== null) return;
        const exited = once(s.child, 'exit');
        s.child.kill('SIGTERM');
        await exited;
      }),
    );
  }
}
