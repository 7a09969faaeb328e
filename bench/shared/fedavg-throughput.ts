/**
 * Local training throughput of the built-in MLP (learn/fl/mlp.ts), examples per second on one
 * core, as an agency spends it in a round: exact rounds run local SGD (batches of 32, every
 * example's gradient clipped before the batch mean, trainer.localUpdate); DP rounds compute every
 * example's gradient at the global parameters, clip it to L2 ≤ C and add it to the sum
 * (trainer.exampleGradients plus the clip and sum of local-round.ts). Rows are design rows of the
 * benchmark's width with an intercept and values in [0, 1] from a fixed generator: the cost does
 * not depend on the values.
 */
import { mlpTrainer } from '../../src/learn/fl/mlp.js';
import type { Batch } from '../../src/learn/fl/trainer.js';
import { median } from './stats.js';
import { DESIGN_WIDTH, SHAPES, type SizeName } from './fedavg-shapes.js';

/** Examples per second of one size. */
export interface Throughput {
  readonly size: SizeName;
  readonly parameters: number;
  readonly examples: number;
  readonly exactPerSecond: number;
  readonly dpPerSecond: number;
}

const BATCH = 32;

/** `rows` design rows (intercept first) and 0/1 responses from a fixed xorshift generator. */
function rowsOf(rows: number): Batch {
  let s = 0x9e3779b9;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const x = new Float64Array(rows * DESIGN_WIDTH);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    x[r * DESIGN_WIDTH] = 1;
    for (let j = 1; j < DESIGN_WIDTH; j++) x[r * DESIGN_WIDTH + j] = next();
    y[r] = next() < 0.5 ? 1 : 0;
  }
  return { x, y, rows };
}

function batchesOf(all: Batch): Batch[] {
  const out: Batch[] = [];
  for (let start = 0; start < all.rows; start += BATCH) {
    const rows = Math.min(BATCH, all.rows - start);
    out.push({
      x: all.x.subarray(start * DESIGN_WIDTH, (start + rows) * DESIGN_WIDTH),
      y: all.y.subarray(start, start + rows),
      rows,
    });
  }
  return out;
}

/** Measures one size: `reps` passes of each kind over `examples` rows, the median pass. */
export function measureThroughput(size: SizeName, examples: number, reps: number): Throughput {
  const trainer = mlpTrainer({ inputs: DESIGN_WIDTH, hidden: SHAPES[size], output: 'binary' });
  const params = trainer.initialParameters(1);
  const all = rowsOf(examples);
  const batches = batchesOf(all);
  const clip = 1;
  const exact: number[] = [];
  const dp: number[] = [];
  const sum = new Float64Array(trainer.size);
  for (let r = 0; r < reps + 1; r++) {
    let t = performance.now();
    trainer.localUpdate(params, batches, { lr: 0.1, clip, epochs: 1 });
    const exactMs = performance.now() - t;
    t = performance.now();
    sum.fill(0);
    trainer.exampleGradients(params, all, (_row, g) => {
      let ss = 0;
      for (let j = 0; j < g.length; j++) ss += (g[j] as number) * (g[j] as number);
      const factor = ss > clip * clip ? clip / Math.sqrt(ss) : 1;
      for (let j = 0; j < g.length; j++) sum[j] = (sum[j] as number) + (g[j] as number) * factor;
    });
    const dpMs = performance.now() - t;
    if (r === 0) continue; // warm-up: the JIT's first pass
    exact.push(exactMs);
    dp.push(dpMs);
  }
  return {
    size,
    parameters: trainer.size,
    examples,
    exactPerSecond: (examples * 1000) / median(exact),
    dpPerSecond: (examples * 1000) / median(dp),
  };
}
