/**
 * `fedstat demo` is the project's front door: it must keep working, and every encrypted result it
 * prints must equal the plaintext. A small run of the real command, as a separate process.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cliPath } from '../../src/demo/agency-processes.js';

const exec = promisify(execFile);

describe('fedstat demo', () => {
  it('runs every showcase over 12 agency processes, each result matching the plaintext, the model and linkage sections', async () => {
    const { stdout } = await exec(process.execPath, [cliPath(), 'demo', '--rows', '1500', '--json'], {
      maxBuffer: 64 << 20,
    });
    const report = JSON.parse(stdout) as {
      allChecksPassed: boolean;
      agencies: unknown[];
      showcases: {
        skipped: string | null;
        queries: { check: string; rows: unknown[]; agencies: { answered: string[]; failed: unknown[] } }[];
      }[];
      model: { check: string; truth: unknown[]; agencies: { answered: string[] }; prediction: { rows: number } };
      network: { check: string; curve: { epsilon: number; agencies: string[] }[]; privacy: { epsilon: number } };
      linkage: Record<
        'antiJoin' | 'innerJoin',
        { check: string; rows: unknown[]; privacy: unknown; linkage: { sides: Record<string, { linked: string[] }> } }
      >;
    };
    expect(report.agencies).toHaveLength(12);
    expect(report.showcases).toHaveLength(6);
    for (const s of report.showcases) {
      expect(s.skipped).toBeNull();
      for (const q of s.queries) {
        expect(q.check).toBe('ok');
        expect(q.rows.length).toBeGreaterThan(0);
        expect(q.agencies.answered).toHaveLength(3);
        expect(q.agencies.failed).toEqual([]);
      }
    }
    // The federated model: equal to the pooled fit, beside the truth, then used by one bureau.
    expect(report.model.check).toBe('ok');
    expect(report.model.truth).toHaveLength(33);
    expect(report.model.agencies.answered).toHaveLength(3);
    expect(report.model.prediction.rows).toBeGreaterThan(0);
    // The DP federated network: every bureau charged what was announced, the curve ending at its ε.
    expect(report.network.check).toBe('ok');
    expect(report.network.curve.every((p) => p.agencies.length === 3)).toBe(true);
    expect(report.network.curve.at(-1)?.epsilon).toBe(report.network.privacy.epsilon);
    // Linked records: the DP anti-join within its noise bound, the exact inner join equal to the plaintext join.
    const { antiJoin, innerJoin } = report.linkage;
    for (const q of [antiJoin, innerJoin]) {
      expect(q.check).toBe('ok');
      expect(q.rows.length).toBeGreaterThan(0);
      expect(Object.values(q.linkage.sides).map((s) => s.linked.length)).toEqual([3, 3]);
    }
    expect(antiJoin.privacy).not.toBeNull();
    expect(innerJoin.privacy).toBeNull();
    expect(report.allChecksPassed).toBe(true);
  }, 300_000);
});
