/** `fedstat key-authority serve`: the holder of the BFV secret key as its own gRPC service. */
import type { Command } from 'commander';
import type { AuditEvent } from '../../transparency/events.js';
import { startKeyAuthorityNode } from '../../key-authority/node.js';
import { toJson } from '../json.js';
import { action, parseIntOption } from '../run.js';
import { stopSignal } from '../stop-signal.js';

/** One line per release or refusal for the operator: ids, counts and reasons, never values. */
function describeKeyAuthorityEvent(e: AuditEvent): string {
  const time = new Date(e.at).toISOString();
  if (e.type === 'decryption') {
    return `${time} released query ${e.queryId}: ${e.contributors.length} agencies summed, ${e.dropped.length} dropped, ${e.ciphertextDigests.length} ciphertexts`;
  }
  if (e.type === 'refusal') return `${time} refused query ${e.queryId}: ${e.reason}`;
  return `${time} ${e.type} ${e.queryId}`;
}

export function registerKeyAuthority(program: Command): void {
  const ka = program
    .command('key-authority')
    .description('run the key authority (the holder of the BFV secret key) as its own service');
  ka.command('serve')
    .description(
      'decrypt, over gRPC, only sums that come with the coordinator-signed query and survivor set, once per query',
    )
    .requiredOption('--federation <file>', 'federation.json')
    .requiredOption('--key <file>', "the key authority's key file (holds the BFV secret key)")
    .option(
      '--port <p>',
      "port to listen on (default: the key authority's endpoint port in the federation file)",
      parseIntOption('--port', 0, 65535),
    )
    .option('--host <host>', "address to bind (default: the endpoint's host)")
    .option('--insecure', 'plain TCP instead of mTLS; only on a loopback address')
    .option(
      '--allow-benchmark-modes',
      "also decrypt encrypted-unmasked queries (benchmarks only: reveals each agency's aggregate)",
    )
    .option(
      '--log-witness <file>',
      'keep the last transparency-log head the key authority accepted here, so a restart still refuses a forked or shortened log',
    )
    .option('--audit-log <file>', 'append every release and refusal to this JSON-lines file')
    .option('--json', 'print events as JSON lines')
    .action(
      action(
        async (opts: {
          federation: string;
          key: string;
          port?: number;
          host?: string;
          insecure?: boolean;
          allowBenchmarkModes?: boolean;
          auditLog?: string;
          logWitness?: string;
          json?: boolean;
        }) => {
          const json = opts.json === true;
          const print = (line: string): void => {
            process.stdout.write(`${line}\n`);
          };
          const node = await startKeyAuthorityNode({
            federationFile: opts.federation,
            keyFile: opts.key,
            insecure: opts.insecure === true,
            allowBenchmarkModes: opts.allowBenchmarkModes === true,
            ...(opts.port === undefined ? {} : { port: opts.port }),
            ...(opts.host === undefined ? {} : { host: opts.host }),
            ...(opts.auditLog === undefined ? {} : { auditLog: opts.auditLog }),
            ...(opts.logWitness === undefined ? {} : { logWitnessFile: opts.logWitness }),
            onEvent: { append: (e) => print(json ? toJson({ event: e.type, ...e }, 0) : describeKeyAuthorityEvent(e)) },
            onRejected: (e) =>
              print(
                json
                  ? toJson({ event: 'rejected', at: Date.now(), code: e.code, reason: e.message }, 0)
                  : `${new Date().toISOString()} rejected a request: ${e.message}`,
              ),
          });
          const security = opts.insecure === true ? 'plain TCP (--insecure)' : 'mTLS';
          if (json)
            print(
              toJson(
                {
                  event: 'listening',
                  keyAuthority: node.partyId,
                  federation: node.federation.name,
                  port: node.port,
                  security,
                },
                0,
              ),
            );
          else
            print(
              `key authority ${node.partyId} of ${node.federation.name} serving on port ${node.port} over ${security} (Ctrl-C to stop)`,
            );
          await stopSignal();
          await node.close();
          const released = node.keyAuthority.releases().length;
          if (json) print(toJson({ event: 'stopped', keyAuthority: node.partyId, releases: released }, 0));
          else print(`stopped after ${released} releases`);
        },
      ),
    );
}
