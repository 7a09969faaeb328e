/**
 * Coordinator-side server strategies (FedAvg, FedAdam) and FedProx's client-side proximal gradient
 * (issue 14 groundwork, not wired into training yet).
 */

/**
 * How the coordinator turns a round's mean update into new global parameters. `S` is plain JSON
 * (numbers, arrays, strings) so a checkpoint can store it; `apply` is deterministic and pure.
 */
export interface Strategy<S> {
  /** The strategy's name, for the round's log entry. */
  readonly name: string;
  /** The state before round one, for parameters of this length. */
  init(params: Float64Array): S;
  /**
   * One server step. `meanUpdate` is the example-weighted mean of (local − global) over the
   * agencies that answered; returns the next state and parameters (inputs are not modified).
   */
  apply(state: S, params: Float64Array, meanUpdate: Float64Array): { state: S; params: Float64Array };
}

/** FedAvg's state: only the number of rounds applied. */
export interface FedAvgState {
  readonly round: number;
}

/** FedAdam's state: the round and the first and second moments (Reddi et al. 2021). */
export interface FedAdamState {
  readonly round: number;
  readonly m: number[];
  readonly v: number[];
}

function checkStep(params: Float64Array, meanUpdate: Float64Array, expected: number): void {
  if (params.length !== expected || meanUpdate.length !== expected)
    throw new RangeError('params, meanUpdate and the state must have the same length; re-init the strategy');
  for (let i = 0; i < meanUpdate.length; i++)
    if (!Number.isFinite(meanUpdate[i]))
      throw new RangeError(`meanUpdate[${i}] is not finite; lower the learning rate or clip updates`);
}

function checkRate(name: string, value: number, low: number, high: number): void {
  if (!Number.isFinite(value) || value < low || value > high)
    throw new RangeError(`${name} must be in [${low}, ${high}]`);
}

/** FedAvg (McMahan et al. 2017) with a server learning rate: x ← x + serverLr·Δ. */
export function fedAvg(options: { serverLr?: number } = {}): Strategy<FedAvgState> {
  const serverLr = options.serverLr ?? 1;
  checkRate('serverLr', serverLr, 0, Number.MAX_VALUE);
  return {
    name: 'fedavg',
    init: () => ({ round: 0 }),
    apply(state, params, meanUpdate) {
      checkStep(params, meanUpdate, params.length);
      const next = new Float64Array(params.length);
      for (let i = 0; i < params.length; i++) next[i] = (params[i] as number) + serverLr * (meanUpdate[i] as number);
      return { state: { round: state.round + 1 }, params: next };
    },
  };
}

/** FedAdam's hyper-parameters; the defaults are Reddi et al. 2021's. */
export interface FedAdamOptions {
  readonly serverLr?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly tau?: number;
}

/**
 * FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2):
 * m ← β1·m + (1−β1)·Δ; v ← β2·v + (1−β2)·Δ²; x ← x + η·m/(√v + τ). As in the paper, there is no
 * bias correction, m starts at 0 and v at τ² (the paper asks v₋₁ ≥ τ²).
 */
export function fedAdam(options: FedAdamOptions = {}): Strategy<FedAdamState> {
  const { serverLr = 1e-2, beta1 = 0.9, beta2 = 0.99, tau = 1e-3 } = options;
  checkRate('serverLr', serverLr, 0, Number.MAX_VALUE);
  checkRate('beta1', beta1, 0, 1 - Number.EPSILON);
  checkRate('beta2', beta2, 0, 1 - Number.EPSILON);
  if (!Number.isFinite(tau) || tau <= 0) throw new RangeError('tau must be finite and > 0');
  return {
    name: 'fedadam',
    init: (params) => ({
      round: 0,
      m: new Array<number>(params.length).fill(0),
      v: new Array<number>(params.length).fill(tau * tau),
    }),
    apply(state, params, meanUpdate) {
      checkStep(params, meanUpdate, state.m.length);
      if (state.v.length !== state.m.length) throw new RangeError('FedAdam state is corrupt: m and v differ in length');
      const m = new Array<number>(params.length);
      const v = new Array<number>(params.length);
      const next = new Float64Array(params.length);
      for (let i = 0; i < params.length; i++) {
        const d = meanUpdate[i] as number;
        // `+ 0` turns −0 into 0, which JSON cannot carry, so checkpoints stay bit-identical.
        m[i] = beta1 * (state.m[i] as number) + (1 - beta1) * d + 0;
        v[i] = beta2 * (state.v[i] as number) + (1 - beta2) * d * d;
        next[i] = (params[i] as number) + (serverLr * (m[i] as number)) / (Math.sqrt(v[i] as number) + tau);
      }
      return { state: { round: state.round + 1, m, v }, params: next };
    },
  };
}

/**
 * The gradient μ(w − w_global) of FedProx's proximal term μ/2·‖w − w_global‖² (Li et al. 2020),
 * for a local trainer to add to its loss gradient; with μ = 0 it is all zeros (+0).
 */
export function proximalGradient(w: Float64Array, wGlobal: Float64Array, mu: number): Float64Array {
  if (w.length !== wGlobal.length) throw new RangeError('w and wGlobal must have the same length');
  checkRate('mu', mu, 0, Number.MAX_VALUE);
  const out = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = mu * ((w[i] as number) - (wGlobal[i] as number)) + 0;
  return out;
}
