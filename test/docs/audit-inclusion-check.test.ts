/**
 * docs/audit.md tells an auditor how to check an inclusion proof by hand, in prose (step 3) and
 * as a Python script. An independent verifier built from that text must accept exactly what the
 * library's verifyInclusion accepts, and in particular refuse an index at or beyond the tree size
 * (RFC 9162 §2.1.3.2 step 1): without that bound, entry 0's proof in a log of 24 also "proves"
 * entry 32.
 *
 * The Python's path check (steps 2–3) is pinned here verbatim and transliterated line for line
 * into TypeScript (bigints, as Python's integers), then cross-checked against verifyInclusion
 * over every index and size up to 40 with valid and misplaced proofs. When python3 with the
 * `cryptography` package is on the machine, the whole snippet also runs against proofs that
 * proveEntry made from a real log (CI does not guarantee python3, so that part may skip).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partyOfRole } from '../../src/federation/federation.js';
import { proveEntry, type EntryProofJson } from '../../src/auditor/prove.js';
import { verifyInclusion } from '../../src/merkle/inclusion-proof.js';
import { createAuditFixture, queryEvents, type AuditFixture } from '../auditor/audit-fixture.js';
import { refLeafHash, refPath, refRoot } from '../merkle/merkle-reference.js';

const auditMd = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');

/** The Python script of docs/audit.md §5. */
function pythonSnippet(): string {
  const m = /In Python \(with the `cryptography` package\):\n\n```python\n([\s\S]*?)\n```/.exec(auditMd);
  if (m?.[1] === undefined) throw new Error('docs/audit.md has no Python inclusion check');
  return `${m[1]}\n`;
}

/** What the TypeScript below transliterates. Edit both together when the docs change. */
const DOCUMENTED_PATH_CHECK = `# 2.-3. the entry is leaf \`index\` of that tree
entry = bytes.fromhex(proof["entry"])
index, size = proof["index"], head["size"]
assert type(index) is int and 0 <= index < size, "no such entry under this head"  # RFC 9162 §2.1.3.2 step 1
r, fn, sn = sha(b"\\x00" + entry), index, size - 1
for p in map(bytes.fromhex, proof["auditPath"]):
    assert sn > 0, "proof too long"
    if fn % 2 == 1 or fn == sn:
        r = sha(b"\\x01" + p + r)
        while fn % 2 == 0 and fn != 0:
            fn, sn = fn >> 1, sn >> 1
    else:
        r = sha(b"\\x01" + r + p)
    fn, sn = fn >> 1, sn >> 1
assert sn == 0 and r.hex() == head["rootHash"], "not included"
`;

const sha = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * DOCUMENTED_PATH_CHECK in TypeScript, line for line; `withBound: false` drops the step-1 line
 * (what the docs said before) to show the cross-check can tell the difference.
 */
function documentedCheck(
  index: number,
  size: number,
  leafHash: Uint8Array,
  path: readonly Uint8Array[],
  rootHex: string,
  withBound = true,
): boolean {
  // index, size = proof["index"], head["size"]
  // assert type(index) is int and 0 <= index < size
  if (withBound && !(Number.isSafeInteger(index) && index >= 0 && index < size)) return false;
  // r, fn, sn = sha(b"\x00" + entry), index, size - 1   (the leaf hash is computed by the caller)
  let r = leafHash;
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  for (const p of path) {
    if (!(sn > 0n)) return false; //                        assert sn > 0
    if (fn % 2n === 1n || fn === sn) {
      //                   if fn % 2 == 1 or fn == sn:
      r = sha(Uint8Array.of(1), p, r);
      while (fn % 2n === 0n && fn !== 0n) {
        //              while fn % 2 == 0 and fn != 0:
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = sha(Uint8Array.of(1), r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && hex(r) === rootHex; //                assert sn == 0 and r.hex() == head["rootHash"]
}

const leavesOf = (n: number): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => refLeafHash(new TextEncoder().encode(`entry ${i}`)));

describe('docs/audit.md: checking an inclusion proof by hand', () => {
  it('pins the Python path check that the TypeScript transliteration mirrors', () => {
    const snippet = pythonSnippet();
    const start = snippet.indexOf('# 2.-3.');
    const end = snippet.indexOf('\n', snippet.indexOf('assert sn == 0', start)) + 1;
    expect(start).toBeGreaterThan(0);
    expect(snippet.slice(start, end)).toBe(DOCUMENTED_PATH_CHECK);
  });

  it('says in prose that an index at or beyond the tree size fails', () => {
    const step3 = /3\. \*\*The path\*\*[\s\S]*?\n4\. /.exec(auditMd)?.[0] ?? '';
    expect(step3).toMatch(/if `index ≥ size`, fail/);
  });

  it('accepts exactly what verifyInclusion accepts, for every index and size up to 40', () => {
    const disagreements: string[] = [];
    let accepted = 0;
    for (let size = 1; size <= 40; size++) {
      const leaves = leavesOf(size);
      const root = refRoot(leaves);
      const rootHex = hex(root);
      for (let i = 0; i < size; i++) {
        const path = refPath(i, leaves);
        const tooShort = path.slice(1);
        const tooLong = [...path, root];
        // The proof of entry i claimed for other entries (every index from -1 to size + 1, and
        // i + 2^k, which walks the same path), under the right head size and one smaller and one
        // larger; and, for entry i itself, the path cut short or extended.
        const claims = new Set([
          -1,
          ...Array.from({ length: size + 3 }, (_, c) => c),
          ...Array.from({ length: 8 }, (_, k) => i + 2 ** k),
          Number.MAX_SAFE_INTEGER,
        ]);
        for (const claimed of claims) {
          for (const s of [size - 1, size, size + 1]) {
            for (const p of claimed !== i ? [path] : path.length > 0 ? [path, tooShort, tooLong] : [path, tooLong]) {
              const lib = verifyInclusion(claimed, s, leaves[i]!, p, root);
              if (documentedCheck(claimed, s, leaves[i]!, p, rootHex) !== lib)
                disagreements.push(`entry ${i} of ${size}, ${p.length} hashes, claimed as ${claimed} of ${s}`);
              // Under the right size only the true index and path verify (the size is what the signed head vouches for).
              if (lib && s === size && (claimed !== i || p !== path))
                disagreements.push(`verifyInclusion accepts entry ${i} of ${size} as ${claimed}`);
              if (lib && s === size) accepted++;
            }
          }
        }
      }
    }
    expect(disagreements).toEqual([]);
    expect(accepted).toBe((40 * 41) / 2);
  });

  it('refuses "entry 32 is in a log of 24", which the check without the bound accepts', () => {
    const leaves = leavesOf(24);
    const rootHex = hex(refRoot(leaves));
    const path = refPath(0, leaves);
    expect(documentedCheck(0, 24, leaves[0]!, path, rootHex)).toBe(true);
    expect(documentedCheck(32, 24, leaves[0]!, path, rootHex, false)).toBe(true); // the hole the bound closes
    expect(documentedCheck(32, 24, leaves[0]!, path, rootHex)).toBe(false);
    expect(verifyInclusion(32, 24, leaves[0]!, path, refRoot(leaves))).toBe(false);
  });
});

const python = spawnSync('python3', ['-c', 'import cryptography'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!python)('docs/audit.md: the Python snippet itself (python3 with cryptography)', () => {
  let fx: AuditFixture;
  let script: string;
  let proofs: { file: string; proof: EntryProofJson }[];
  beforeAll(async () => {
    fx = await createAuditFixture();
    script = join(fx.dir, 'check.py');
    writeFileSync(script, pythonSnippet());
    const opts = { coordinator: fx.coordinator, keyAuthority: fx.keyAuthority };
    const at = 1_800_000_000_000;
    const events = [
      ...queryEvents('q1', ['a1', 'a2'], at, opts),
      ...queryEvents('q2', ['a1', 'a2', 'a3'], at, opts),
      ...queryEvents('q3', ['a2', 'a3'], at, opts),
    ].slice(0, 24);
    const { file, head } = await fx.writeLog(
      'snippet.tlog',
      events.map((e) => fx.entry(e.event, e.author)),
    );
    const key = partyOfRole(fx.federation, 'coordinator').signingKey;
    proofs = await Promise.all(
      [0, 13, 23].map(async (i) => ({
        file: join(fx.dir, `entry-${i}.proof.json`),
        proof: await proveEntry(file, i, head, key),
      })),
    );
  }, 60_000);
  afterAll(() => fx.close());

  const run = (proof: unknown, file: string): { status: number | null; out: string } => {
    writeFileSync(file, JSON.stringify(proof));
    const r = spawnSync('python3', [script, file, fx.federationFile], { encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };

  it('accepts proofs from proveEntry over a real log', () => {
    for (const { file, proof } of proofs) {
      const r = run(proof, file);
      expect(r.out).toMatch(new RegExp(`^entry ${proof.index} \\(\\w+ by [\\w-]+\\) is in the log of 24 entries\\n$`));
      expect(r.status).toBe(0);
    }
  });

  it("refuses entry 0's proof claimed for entry 32, 24 or -1, and an altered path", () => {
    const { file, proof } = proofs[0]!;
    for (const index of [32, 24, -1]) {
      const r = run({ ...proof, index }, file);
      expect(r.status).not.toBe(0);
      expect(r.out).toContain('AssertionError: no such entry under this head');
    }
    const flipped = {
      ...proof,
      auditPath: [
        `${proof.auditPath[0]![0] === '0' ? '1' : '0'}${proof.auditPath[0]!.slice(1)}`,
        ...proof.auditPath.slice(1),
      ],
    };
    const r = run(flipped, file);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('AssertionError: not included');
  });
});
