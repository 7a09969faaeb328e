/**
 * `bench join`'s coordinator: the one `connectCoordinator` would open (gRPC + mTLS links to every
 * agency, the in-process key authority with its isolated decryptor), except that each link is
 * wrapped to time the calls the coordinator makes through it. A join's QueryResult.timings puts
 * all of linkage inside `gatherMs`, and the coordinator reports linkage's phases to nobody, so the
 * phases are timed here from the outside: per phase, from its first call to its last answer.
 */
import { join, dirname } from 'node:path';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { agencies, type Federation } from '../../src/federation/federation.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { HeParams } from '../../src/he/he-params.js';
import { presetByName } from '../../src/he/presets.js';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import { isolatedSlotDecryptor } from '../../src/key-authority/slot-decryptor.js';
import type { AgencyLink, LinkagePhases } from '../../src/protocol/links.js';
import { GrpcAgencyLink } from '../../src/transport/agency-client.js';
import { channelCredentials } from '../../src/transport/credentials.js';

/** The calls that are timed: linkage's five phases and round 1. */
const TIMED_PHASES = ['start', 'blind', 'reblind', 'encrypt', 'load', 'aggregate'] as const;
type TimedPhase = (typeof TIMED_PHASES)[number];

/** Wall time of each phase of the last query, in ms (first call to last answer, over all agencies). */
export type PhaseTimes = Readonly<Record<TimedPhase, number>>;

/** Records the span of each phase since the last `reset`. */
export class PhaseClock {
  #spans = new Map<TimedPhase, { first: number; last: number }>();

  reset(): void {
    this.#spans.clear();
  }

  async time<T>(phase: TimedPhase, call: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await call();
    } finally {
      const s = this.#spans.get(phase);
      const now = performance.now();
      this.#spans.set(phase, { first: Math.min(s?.first ?? t, t), last: Math.max(s?.last ?? now, now) });
    }
  }

  times(): PhaseTimes {
    const span = (p: TimedPhase): number => {
      const s = this.#spans.get(p);
      return s === undefined ? 0 : s.last - s.first;
    };
    return Object.fromEntries(TIMED_PHASES.map((p) => [p, span(p)])) as Record<TimedPhase, number>;
  }
}

/** `inner` with every linkage phase and round 1 timed on `clock`. */
function timedLink(inner: AgencyLink, clock: PhaseClock): AgencyLink {
  const phases = inner.linkage;
  const linkage: LinkagePhases | undefined =
    phases === undefined
      ? undefined
      : {
          start: (r, d) => clock.time('start', () => phases.start(r, d)),
          blind: (r, d) => clock.time('blind', () => phases.blind(r, d)),
          reblind: (r, d) => clock.time('reblind', () => phases.reblind(r, d)),
          encrypt: (r, d) => clock.time('encrypt', () => phases.encrypt(r, d)),
          load: (r, d) => clock.time('load', () => phases.load(r, d)),
        };
  return {
    agencyId: inner.agencyId,
    describe: (d) => inner.describe(d),
    aggregate: (q, d, proof) => clock.time('aggregate', () => inner.aggregate(q, d, proof)),
    unmask: (r, d) => inner.unmask(r, d),
    ...(linkage === undefined ? {} : { linkage }),
    close: () => inner.close(),
  };
}

/**
 * A coordinator over mTLS gRPC to every agency of `federation`, with the in-process key authority
 * (key files in `keys/` beside the federation file), its links timed on `clock`. The federation
 * must not require the transparency log (the bench's does not: policy.transparencyLog false).
 */
export async function timedCoordinator(federation: Federation, clock: PhaseClock): Promise<Coordinator> {
  const keys = join(dirname(federation.file), 'keys');
  const secrets = loadKeyFile(join(keys, 'coordinator.key'), federation);
  const params = await HeParams.create(presetByName(federation.he.preset));
  const keyAuthority = await InProcessKeyAuthority.create({
    federation,
    secrets: loadKeyFile(join(keys, 'key-authority.key'), federation),
    decryptor: isolatedSlotDecryptor,
    params,
  });
  // One credentials object per channel, as connectCoordinator makes them (each closes with its channel).
  const links = agencies(federation).map((a) =>
    timedLink(
      new GrpcAgencyLink(
        a.id,
        a.endpoint ?? '',
        channelCredentials(federation, secrets, { insecure: false, endpointHost: '127.0.0.1' }),
      ),
      clock,
    ),
  );
  return Coordinator.create({ federation, secrets, keyAuthority, links, params });
}
