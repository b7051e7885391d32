// Dense-layer kernels for transformer blocks: linear maps, layer norm, GELU
// with an accurate erf. They take contiguous typed arrays with explicit sizes
// and do not validate; the public classes that call them do.

import type { TensorData } from "../tensor.js";

/**
 * Computes `out[r, o] = bias[o] + sum_i x[r, i] * weight[o, i]` for `rows` rows:
 * PyTorch's `F.linear` with `weight` of shape (outFeatures, inFeatures).
 * Accumulates in float64 (JavaScript numbers) whatever the storage type, in
 * a fixed order, so results are deterministic.
 */
export function linearKernel(
  x: TensorData,
  rows: number,
  inFeatures: number,
  weight: TensorData,
  bias: TensorData | null,
  outFeatures: number,
  out: TensorData,
): void {
  // Blocks of 4 rows x 2 outputs: each loaded weight is used 4 times and each
  // loaded input twice, which halves the loads per multiply-add.
  const rowBlocks = rows - (rows % 4);
  const outBlocks = outFeatures - (outFeatures % 2);
  for (let r = 0; r < rowBlocks; r += 4) {
    const x0 = r * inFeatures;
    const x1 = x0 + inFeatures;
    const x2 = x1 + inFeatures;
    const x3 = x2 + inFeatures;
    for (let o = 0; o < outBlocks; o += 2) {
      const w0 = o * inFeatures;
      const w1 = w0 + inFeatures;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0; // prettier-ignore
      for (let i = 0; i < inFeatures; i++) {
        const a = weight[w0 + i];
        const b = weight[w1 + i];
        const v0 = x[x0 + i];
        const v1 = x[x1 + i];
        const v2 = x[x2 + i];
        const v3 = x[x3 + i];
        s00 += v0 * a;
        s01 += v0 * b;
        s10 += v1 * a;
        s11 += v1 * b;
        s20 += v2 * a;
        s21 += v2 * b;
        s30 += v3 * a;
        s31 += v3 * b;
      }
      const b0 = bias === null ? 0 : bias[o];
      const b1 = bias === null ? 0 : bias[o + 1];
      out[r * outFeatures + o] = b0 + s00;
      out[r * outFeatures + o + 1] = b1 + s01;
      out[(r + 1) * outFeatures + o] = b0 + s10;
      out[(r + 1) * outFeatures + o + 1] = b1 + s11;
      out[(r + 2) * outFeatures + o] = b0 + s20;
      out[(r + 2) * outFeatures + o + 1] = b1 + s21;
      out[(r + 3) * outFeatures + o] = b0 + s30;
      out[(r + 3) * outFeatures + o + 1] = b1 + s31;
    }
    for (let o = outBlocks; o < outFeatures; o++) {
      for (let k = 0; k < 4; k++)
        out[(r + k) * outFeatures + o] = linearDot(
          x,
          (r + k) * inFeatures,
          weight,
          o * inFeatures,
          inFeatures,
          bias,
          o,
        );
    }
  }
  for (let r = rowBlocks; r < rows; r++) {
    for (let o = 0; o < outFeatures; o++)
      out[r * outFeatures + o] = linearDot(
        x,
        r * inFeatures,
        weight,
        o * inFeatures,
        inFeatures,
        bias,
        o,
      );
  }
}

/** One output of {@link linearKernel}, summed in the same order as the blocked loop. */
function linearDot(
  x: TensorData,
  xOff: number,
  weight: TensorData,
  wOff: number,
  n: number,
  bias: TensorData | null,
  o: number,
): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[xOff + i] * weight[wOff + i];
  return (bias === null ? 0 : bias[o]) + sum;
}

/**
 * Normalises each row of `x` (rows x features) in place of `out`:
 * `(x - mean) / sqrt(var + eps) * gamma + beta`, with the biased variance as
 * `torch.nn.LayerNorm` uses. `out` may be `x`.
 */
export function layerNormKernel(
  x: TensorData,
  rows: number,
  features: number,
  gamma: TensorData,
  beta: TensorData,
  eps: number,
  out: TensorData,
): void {
  for (let r = 0; r < rows; r++) {
    const off = r * features;
    let mean = 0;
    for (let i = 0; i < features; i++) mean += x[off + i];
    mean /= features;
    let variance = 0;
    for (let i = 0; i < features; i++) {
      const d = x[off + i] - mean;
      variance += d * d;
    }
    variance /= features;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < features; i++)
      out[off + i] = (x[off + i] - mean) * inv * gamma[i] + beta[i];
  }
}

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2 / sqrt(pi)
const ONE_OVER_SQRT_PI = 0.5641895835477563; // 1 / sqrt(pi)
const SPLIT = 134217729; // 2^27 + 1, Veltkamp's constant for splitting a double in two halves

/** exp(-x^2) with x^2 carried in two parts, so that the rounding of x*x does not cost accuracy for large x. */
function expMinusSquare(x: number): number {
  const c = SPLIT * x;
  const hi = c - (c - x);
  const lo = x - hi;
  const square = x * x;
  const error = hi * hi - square + 2 * hi * lo + lo * lo; // exact x^2 = square + error
  return Math.exp(-square) * (1 - error);
}

/**
 * erfc(x) for x >= 2.5 by the continued fraction
 * `erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))`,
 * evaluated with the modified Lentz method until a step changes it by less than 1e-17.
 */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? 1 / tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-17) break;
  }
  return (expMinusSquare(x) * ONE_OVER_SQRT_PI) / f;
}

/**
 * erf(x) for 0 <= x < 2.5 by the series with positive terms
 * `erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (1*3*...*(2n+1))`,
 * which has no cancellation.
 */
function erfSeries(x: number): number {
  const twoSquare = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= twoSquare / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * expMinusSquare(x) * sum;
}

/**
 * The error function, accurate to a few units in the last place
 * (relative error below about 1e-15 in tests against 30-digit values).
 */
export function erf(x: number): number {
  if (Number.isNaN(x) || x === 0) return x; // keeps the sign of -0
  const a = Math.abs(x);
  let value: number;
  if (a < 2.5) value = erfSeries(a);
  else if (a < 6) value = 1 - erfcContinuedFraction(a);
  else value = 1; // erfc(6) is about 2e-17, below half an ulp of 1
  return x < 0 ? -value : value;
}

/**
 * The complementary error function 1 - erf(x). From x = 2.5 on it comes from a
 * continued fraction and keeps full relative accuracy in the tail.
 *
 * NOTE: for 0 < x < 2.5 it is computed as 1 - erf(x), which loses up to 11
 * bits to cancellation near x = 2.5 (relative error up to about 3e-12 there).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 2.5) return 1 - erf(x);
  if (x > 27.3) return 0; // below the smallest subnormal double
  return erfcContinuedFraction(x);
}

/**
 * The exact GELU, `x * Phi(x) = 0.5 * x * erfc(-x / sqrt(2))`, as BERT's
 * "gelu" and `torch.nn.functional.gelu` without approximation. Written with
 * erfc, so that large negative inputs do not cancel to 0. For x < 0 the
 * relative error is at most about 3e-12 between -3.5 and 0 (see {@link erfc})
 * and about x^2 * 1e-16 below, from rounding x / sqrt(2); for x >= 0 it is a few ulp.
 */
export function gelu(x: number): number {
  return 0.5 * x * erfc(-x * Math.SQRT1_2);
}
