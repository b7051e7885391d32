// A plain float64 reference for attention, written independently of src/:
// full multi-index loops, explicit broadcasting, no shared kernels. It is the
// oracle the property tests compare every dotattn function against.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev).

/** A dense row-major array of float64 values. */
export interface Dense {
  shape: number[];
  data: Float64Array;
}

/** One attention problem in plain data. */
export interface Problem {
  Q: Dense;
  K: Dense;
  V: Dense;
  mask?: Dense;
  bias?: Dense;
  isCausal?: boolean;
  alignment?: "upper-left" | "lower-right";
  window?: [number | null, number | null];
  scale?: number;
  softcap?: number;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reads `array` at `index` of a larger broadcast shape, aligning dims at the right. */
function at(array: Dense, index: readonly number[]): number {
  const shift = index.length - array.shape.length;
  let flat = 0;
  for (let d = 0; d < array.shape.length; d++) {
    const i = array.shape[d] === 1 ? 0 : index[shift + d];
    flat = flat * array.shape[d] + i;
  }
  return array.data[flat];
}

/** Broadcasts leading shapes (the caller passes compatible ones). */
export function broadcast(...shapes: number[][]): number[] {
  const ndim = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(ndim).fill(1);
  for (const shape of shapes) {
    for (let d = 0; d < shape.length; d++) {
      const r = ndim - shape.length + d;
      if (shape[d] !== 1) out[r] = shape[d];
    }
  }
  return out;
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return index;
}

/** Whether query i may see key j under the mask, bias, causal and window rules. */
function visible(p: Problem, lead: number[], i: number, j: number, L: number, S: number): boolean {
  const offset = p.alignment === "lower-right" ? S - L : 0;
  if (p.isCausal && j > i + offset) return false;
  if (p.window) {
    const [left, right] = p.window;
    if (left !== null && j < i + offset - left) return false;
    if (right !== null && j > i + offset + right) return false;
  }
  if (p.mask && at(p.mask, [...lead, i, j]) === 0) return false;
  if (p.bias && at(p.bias, [...lead, i, j]) === -Infinity) return false;
  return true;
}

/** Computes output (..., L, Ev) and weights (..., L, S) by the textbook formula. */
export function referenceAttention(p: Problem): { output: Dense; weights: Dense } {
  const L = p.Q.shape.at(-2)!;
  const E = p.Q.shape.at(-1)!;
  const S = p.K.shape.at(-2)!;
  const Ev = p.V.shape.at(-1)!;
  const leadShape = broadcast(
    p.Q.shape.slice(0, -2),
    p.K.shape.slice(0, -2),
    p.V.shape.slice(0, -2),
  );
  const batch = size(leadShape);
  const scale = p.scale ?? 1 / Math.sqrt(E);
  const output = new Float64Array(batch * L * Ev);
  const weights = new Float64Array(batch * L * S);

  for (let b = 0; b < batch; b++) {
    const lead = unravel(b, leadShape);
    for (let i = 0; i < L; i++) {
      const logits: number[] = [];
      const keep: boolean[] = [];
      for (let j = 0; j < S; j++) {
        keep.push(visible(p, lead, i, j, L, S));
        if (!keep[j]) {
          logits.push(-Infinity);
          continue;
        }
        let dot = 0;
        for (let e = 0; e < E; e++) dot += at(p.Q, [...lead, i, e]) * at(p.K, [...lead, j, e]);
        let z = dot * scale;
        if (p.softcap !== undefined) z = p.softcap * Math.tanh(z / p.softcap);
        if (p.bias) z += at(p.bias, [...lead, i, j]);
        logits.push(z);
      }

      if (!keep.some(Boolean)) continue; // fully masked: weights and output stay 0
      const max = Math.max(...logits.filter((_, j) => keep[j]));
      const exps = logits.map((z, j) => (keep[j] ? Math.exp(z - max) : 0));
      const total = exps.reduce((a, x) => a + x, 0);
      for (let j = 0; j < S; j++) {
        const w = exps[j] / total;
        weights[(b * L + i) * S + j] = w;
        if (!keep[j]) continue;
        for (let e = 0; e < Ev; e++) output[(b * L + i) * Ev + e] += w * at(p.V, [...lead, j, e]);
      }
    }
  }

  return {
    output: { shape: [...leadShape, L, Ev], data: output },
    weights: { shape: [...leadShape, L, S], data: weights },
  };
}

/** `sum(output * dOutput)` by the reference, the function whose gradient attentionBackward returns. */
export function referenceLoss(p: Problem, dOutput: Dense): number {
  const { output } = referenceAttention(p);
  let sum = 0;
  for (let i = 0; i < output.data.length; i++) sum += output.data[i] * dOutput.data[i];
  return sum;
}

/** Central finite differences of `referenceLoss` with respect to one input. */
export function finiteDifference(
  p: Problem,
  dOutput: Dense,
  which: "Q" | "K" | "V",
  h = 1e-6,
): Float64Array {
  const target = p[which];
  const grad = new Float64Array(target.data.length);
  for (let n = 0; n < target.data.length; n++) {
    const saved = target.data[n];
    target.data[n] = saved + h;
    const plus = referenceLoss(p, dOutput);
    target.data[n] = saved - h;
    const minus = referenceLoss(p, dOutput);
    target.data[n] = saved;
    grad[n] = (plus - minus) / (2 * h);
  }
  return grad;
}
