/**
 * A DP GLM round's noise (learn/glm-noise.ts) as the privacy terms every query carries through the
 * coordinator's steps (privacy-terms.ts): its ρ for the budget preflight and the release record,
 * the threshold, and one "measure" per noised kind of sum (n first, as a count).
 */
import type { GlmEncodingPlan } from '../learn/fixed-point.js';
import type { PrivacyTerms } from '../protocol/privacy-terms.js';

/** The round's terms; null for exact sums. */
export function glmPrivacyTerms(encoding: GlmEncodingPlan): PrivacyTerms | null {
  const noise = encoding.privacy;
  if (noise === undefined) return null;
  const measures = Object.entries(noise.kinds).flatMap(([kind, k]) =>
    k === null
      ? []
      : [
          {
            measure: kind,
            sensitivity: k.sensitivity,
            rho: k.rho,
            mu: k.mu,
            agencyMu: k.agencyMu,
            agencyNoiseBound: k.agencyNoiseBound,
          },
        ],
  );
  const agencyNoiseBound = measures.reduce((m, k) => (k.agencyNoiseBound > m ? k.agencyNoiseBound : m), 0n);
  return { rho: noise.rho, threshold: noise.threshold, measures, agencyNoiseBound };
}
