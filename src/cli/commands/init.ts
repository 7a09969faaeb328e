import type { Command } from 'commander';
import { initFederation, parseAgencySpec, parseEndpointOption, readSchemaFile } from '../../federation/init.js';
import { toJson } from '../json.js';
import { action, collect, parseIntOption } from '../run.js';
import { renderTable } from '../table.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description(
      'create a federation: federation.json (public), the HE public key, the federation CA certificate, and one 0600 key file (keys + TLS certificate) per party in keys/',
    )
    .requiredOption('--out <dir>', 'folder to write the federation into')
    .requiredOption('--schema <file>', 'schema JSON declaring datasets, columns, domains and bounds')
    .requiredOption(
      '--agency <id=host:port>',
      'an agency and its gRPC endpoint (repeat for each agency; ids are 1-63 lowercase letters, digits and inner dashes; every party its own endpoint)',
      collect,
    )
    .option('--min-agencies <k>', 'fewest agencies a released result may combine', parseIntOption('--min-agencies', 1))
    .option('--min-group-size <m>', 'groups with fewer records are withheld', parseIntOption('--min-group-size', 1))
    .option(
      '--exact-release',
      'allow queries without --rho to be released exactly (after cell suppression); by default every query must be differentially private',
    )
    .option(
      '--no-transparency-log',
      'do not require every query to be in the transparency log (agencies then answer queries without a log proof)',
    )
    .option('--name <name>', 'federation name', 'fedstat-federation')
    .option(
      '--key-authority <host:port>',
      'run the key authority as its own service at this endpoint (default: inside the coordinator)',
      parseEndpointOption('--key-authority'),
    )
    .option('--force', 'replace an existing federation and all its keys')
    .option('--json', 'print the result as JSON')
    .action(
      action(
        async (opts: {
          out: string;
          schema: string;
          agency: string[];
          minAgencies?: number;
          minGroupSize?: number;
          name: string;
          keyAuthority?: string;
          exactRelease?: boolean;
          transparencyLog?: boolean;
          force?: boolean;
          json?: boolean;
        }) => {
          const result = await initFederation({
            outDir: opts.out,
            schema: readSchemaFile(opts.schema),
            agencies: opts.agency.map(parseAgencySpec),
            name: opts.name,
            policy: {
              ...(opts.minAgencies === undefined ? {} : { minAgencies: opts.minAgencies }),
              ...(opts.minGroupSize === undefined ? {} : { minGroupSize: opts.minGroupSize }),
              exactRelease: opts.exactRelease === true,
              transparencyLog: opts.transparencyLog !== false,
            },
            force: opts.force === true,
            ...(opts.keyAuthority === undefined ? {} : { keyAuthorityEndpoint: opts.keyAuthority }),
          });
          const f = result.federation;
          if (opts.json === true) {
            process.stdout.write(
              `${toJson({
                federation: result.federationFile,
                id: f.id,
                policy: f.policy,
                keyFiles: result.keyFiles,
                caCertificate: result.caCertificateFile,
                caKey: result.caKeyFile,
              })}\n`,
            );
            return;
          }
          process.stdout.write(`federation ${f.name} (${f.id.slice(0, 16)}…) written to ${result.federationFile}\n`);
          process.stdout.write(
            `policy: minAgencies ${f.policy.minAgencies}, minGroupSize ${f.policy.minGroupSize}, ${f.policy.exactRelease ? 'exact release allowed' : 'differential privacy required'}, ${f.policy.transparencyLog ? 'every query in the transparency log' : 'transparency log optional'}; HE preset ${f.he.preset}\n\n`,
          );
          process.stdout.write(
            `${renderTable(
              ['party', 'role', 'endpoint', 'key file (0600, keep secret)'],
              f.parties.map((p) => [
                p.id,
                p.role,
                p.endpoint ?? (p.role === 'key-authority' ? '(inside the coordinator)' : '—'),
                result.keyFiles[p.id] ?? '',
              ]),
            )}\n`,
          );
          process.stdout.write(
            `\nfederation CA: ${result.caCertificateFile} (public); its key ${result.caKeyFile} only issues certificates: keep it offline\n`,
          );
          process.stdout.write(
            'Give each party federation.json, he-public.key, ca.crt and its own key file; nothing else.\n',
          );
        },
      ),
    );
}
