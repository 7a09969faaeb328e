/**
 * An agency node embedded in an existing Node service.
 *
 * The "existing service" here is what an agency typically already runs: a gRPC server with its own
 * services and an HTTP health endpoint. fedstat adds the Agency service to the same gRPC server;
 * the agency's records stay in its own DuckDB file, and only signed, masked ciphertexts leave, over
 * mTLS with the certificate the federation CA issued the agency.
 *
 *   node dist/examples/embedded-agency.js --federation fed/federation.json --key fed/keys/cd-psb.key \
 *     --data residence_registrations=data/cd-psb.residence_registrations.csv [--db agency.duckdb] \
 *     [--budget residence_registrations=1 --ledger cd-psb.ledger]
 */
import { Server } from '@grpc/grpc-js';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import {
  AGENCY_SERVER_OPTIONS,
  agencyCredentials,
  BudgetLedger,
  createAgency,
  loadAgencyMaterial,
  mountAgency,
  openDuckDbStore,
} from 'fedstat';

const { values } = parseArgs({
  options: {
    federation: { type: 'string' },
    key: { type: 'string' },
    data: { type: 'string', multiple: true },
    db: { type: 'string', default: ':memory:' },
    budget: { type: 'string', multiple: true, default: [] },
    ledger: { type: 'string' },
  },
});
if (values.federation === undefined || values.key === undefined || values.data === undefined) {
  console.error('usage: embedded-agency --federation FILE --key FILE --data DATASET=FILE.csv [--db FILE]');
  process.exit(2);
}

// 1. The agency's own keys and the federation's public description: federation.json, the HE
//    public key beside it, and the agency's key file. createAgency reads no file; these are values.
const material = loadAgencyMaterial(values.federation, values.key);
const { federation, secrets } = material;

// 2. The agency's records, validated against the federation schema as they are loaded.
const store = await openDuckDbStore(values.db);
for (const spec of values.data) {
  const [dataset = '', file = ''] = spec.split('=');
  const report = await store.loadCsv(dataset, federation.schema.datasets[dataset]!, file);
  console.log(`loaded ${report.rowsLoaded} ${dataset} records`);
}
// 3. The agency's own privacy budget per dataset: every differentially private query is charged
//    here, durably, before the agency reads its data; the coordinator cannot spend it.
const budgets = Object.fromEntries(values.budget.map((spec) => spec.split('=') as [string, string]));
const ledger = values.ledger === undefined ? undefined : await BudgetLedger.open(values.ledger, { budgets });
const agency = await createAgency({ ...material, store, ...(ledger === undefined ? {} : { ledger }) });

// 4. The service that already existed: a gRPC server (with whatever it served before) ...
const grpcServer = new Server(AGENCY_SERVER_OPTIONS);
// ... now also answering fedstat queries, from the federation's coordinator only.
mountAgency(grpcServer, agency, federation);
// mTLS with the certificate `fedstat init` issued this agency: only parties of the federation connect.
const credentials = agencyCredentials(material, { host: '127.0.0.1' });
const endpoint = federation.parties.find((p) => p.id === secrets.party)?.endpoint ?? '127.0.0.1:0';
const port = await new Promise<number>((resolve, reject) => {
  grpcServer.bindAsync(`127.0.0.1:${endpoint.split(':').pop()}`, credentials, (err, p) =>
    err ? reject(err) : resolve(p),
  );
});

// ... and an HTTP health endpoint reporting what the agency serves (never any counts).
const http = createServer((req, res) => {
  void agency.describe().then((d) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ agency: d.agencyId, datasets: d.datasets, budgets: d.budgets }));
  });
});
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const httpAddress = http.address();
console.log(
  JSON.stringify({
    event: 'ready',
    agency: agency.id,
    grpcPort: port,
    httpPort: typeof httpAddress === 'object' && httpAddress !== null ? httpAddress.port : 0,
  }),
);

// 5. Graceful shutdown: stop taking calls, then release the SEAL objects, the ledger and the store.
const shutdown = (): void => {
  http.close();
  grpcServer.tryShutdown(() => void agency.close().then(() => process.exit(0)));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
