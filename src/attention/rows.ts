// Per-query-row building blocks shared by every attention kernel: which keys a
// query may see, its logits, and its softmax. Working one row (or one block of
// a row) at a time keeps the memory of a kernel independent of L x S unless it
// chooses to store the weights.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev).

import type { AttentionCall } from "../normalize.js";

/**
 * Marks in `keep[0 .. count)` which keys `j0 .. j0 + count` query `i` of batch
 * `b` may see: inside the causal/window band, kept by the mask, and not
 * biased to -Infinity. Returns how many are kept.
 */
export function keepRow(
  call: AttentionCall,
  b: number,
  i: number,
  j0: number,
  count: number,
  keep: Uint8Array,
): number {
  const lo = Math.max(j0, i + call.offset - call.windowLeft);
  const hi = Math.min(j0 + count - 1, i + call.offset + call.windowRight);
  keep.fill(0, 0, count);
  if (lo > hi) return 0;

  for (let j = lo; j <= hi; j++) keep[j - j0] = 1;

  const { mask, bias } = call;
  if (mask !== null) {
    const base = mask.offsets[b] + i * mask.rowStride;
    for (let j = lo; j <= hi; j++) {
      if (mask.data[base + j * mask.colStride] === 0) keep[j - j0] = 0;
    }
  }
  if (bias !== null) {
    const base = bias.offsets[b] + i * bias.rowStride;
    for (let j = lo; j <= hi; j++) {
      if (bias.data[base + j * bias.colStride] === -Infinity) keep[j - j0] = 0;
    }
  }

  let kept = 0;
  for (let j = lo; j <= hi; j++) kept += keep[j - j0];
  return kept;
}

/**
 * Writes the logits of query `i` against keys `j0 .. j0 + count` into
 * `logits`: scale, then softcap, then bias. Masked keys get -Infinity and are
 * never read, so NaN or Infinity stored in a masked key cannot leak in.
 * When `scaled` is given it receives the scaled logits before the softcap
 * (the backward pass needs them).
 */
export function logitsRow(
  call: AttentionCall,
  b: number,
  i: number,
  j0: number,
  count: number,
  keep: Uint8Array,
  logits: Float64Array,
  scaled?: Float64Array,
): void {
  const { q, k, bias, E, scale, softcap } = call;
  const qBase = q.offsets[b] + i * E;
  const kBase = k.offsets[b];
  const qData = q.data;
  const kData = k.data;
  for (let t = 0; t < count; t++) {
    if (keep[t] === 0) {
      logits[t] = -Infinity;
      if (scaled) scaled[t] = -Infinity;
      continue;
    }
    const kRow = kBase + (j0 + t) * E;
    // The scale multiplies each query entry before the sum, as the blocked
    // kernels do, so every function rounds (and overflows) the same way.
    let x = 0;
    for (let e = 0; e < E; e++) x += qData[qBase + e] * scale * kData[kRow + e];
    if (scaled) scaled[t] = x;
    if (softcap > 0) x = softcap * Math.tanh(x / softcap);
    logits[t] = x;
  }
  if (bias !== null) {
    const base = bias.offsets[b] + i * bias.rowStride + j0 * bias.colStride;
    for (let t = 0; t < count; t++) {
      if (keep[t] !== 0) logits[t] += bias.data[base + t * bias.colStride];
    }
  }
}

/**
 * Writes the softmax of `logits[0 .. count)` over the kept keys into
 * `weights`; masked keys get exactly 0. A row with no kept key gets all
 * zeros instead of the NaN that 0 / 0 would give.
 */
export function softmaxKept(
  logits: Float64Array,
  keep: Uint8Array,
  count: number,
  kept: number,
  weights: Float64Array,
): void {
  if (kept === 0) {
    weights.fill(0, 0, count);
    return;
  }
  let max = -Infinity;
  for (let t = 0; t < count; t++) if (keep[t] !== 0 && logits[t] > max) max = logits[t];
  // NOTE: a kept logit of NaN, or all kept logits at -Infinity (overflow of
  // huge inputs), makes the row NaN, as PyTorch does: that is not masking.
  if (max === -Infinity) max = NaN;
  let sum = 0;
  for (let t = 0; t < count; t++) {
    if (keep[t] === 0) {
      weights[t] = 0;
    } else {
      const e = Math.exp(logits[t] - max);
      weights[t] = e;
      sum += e;
    }
  }
  for (let t = 0; t < count; t++) weights[t] /= sum;
}

/** Scratch buffers for one query row over all S keys. */
export interface RowScratch {
  keep: Uint8Array;
  logits: Float64Array;
  scaled: Float64Array;
  weights: Float64Array;
}

/** Allocates scratch for rows of `S` keys. */
export function rowScratch(S: number): RowScratch {
  return {
    keep: new Uint8Array(S),
    logits: new Float64Array(S),
    scaled: new Float64Array(S),
    weights: new Float64Array(S),
  };
}

/**
 * Computes the full attention row of query `i` in batch `b` into `scratch`
 * (keep, scaled logits, logits, weights) and returns how many keys are kept.
 */
export function attendRow(call: AttentionCall, b: number, i: number, scratch: RowScratch): number {
  const { S } = call;
  const kept = keepRow(call, b, i, 0, S, scratch.keep);
  logitsRow(call, b, i, 0, S, scratch.keep, scratch.logits, scratch.scaled);
  softmaxKept(scratch.logits, scratch.keep, S, kept, scratch.weights);
  return kept;
}

/**
 * Adds `sum_j weights[j] * V[j]` over kept keys to `out[outBase .. outBase + Ev)`.
 * Masked keys are skipped, not multiplied by 0, so NaN in them cannot leak.
 */
export function weightValues(
  call: AttentionCall,
  b: number,
  j0: number,
  count: number,
  keep: Uint8Array,
  weights: ArrayLike<number>,
  out: Float64Array,
  outBase: number,
): void {
  const { v, Ev } = call;
  const vData = v.data;
  const vBase = v.offsets[b];
  for (let t = 0; t < count; t++) {
    if (keep[t] === 0) continue;
    const w = weights[t];
    const vRow = vBase + (j0 + t) * Ev;
    for (let e = 0; e < Ev; e++) out[outBase + e] += w * vData[vRow + e];
  }
}
