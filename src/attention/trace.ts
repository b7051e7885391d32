// Attention with every intermediate kept, for teaching and debugging.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev).

import type { AttentionCall } from "../normalize.js";
import { allocate, allocateResult, Tensor } from "../tensor.js";
import { keepRow, softmaxKept, weightValues } from "./rows.js";

/** Every step of one attention call; all but `output` have shape (..., L, S). */
export interface AttentionTrace {
  /** Raw dot products `Q K^T`. */
  scores: Tensor;
  /** After the scale and the softcap. */
  scaled: Tensor;
  /** After the bias and the masks: -Infinity where a key is masked. */
  masked: Tensor;
  /** 1 where a key survives every mask, 0 where it is masked. */
  keep: Tensor;
  /** Softmax of `masked`; 0 at masked keys and on fully masked rows. */
  weights: Tensor;
  /** Weighted sum of V, shape (..., L, Ev). */
  output: Tensor;
}

/**
 * Runs a normalized call and records each step. Unlike the other kernels it
 * computes `Q K^T` at masked positions too, because `scores` shows them; a
 * NaN there stays in `scores` and `scaled` and never reaches `masked`.
 */
export function runTrace(call: AttentionCall): AttentionTrace {
  const { batch, L, S, E, Ev, dtype, q, k, scale, softcap, bias } = call;
  const size = batch * L * S;
  const scores = allocateResult(
    call.where,
    "each of the five traced steps (..., L, S) =",
    dtype,
    [...call.batchShape, L, S],
    "; memoryEfficientAttention computes the output without them",
  );
  const scaled = allocate(dtype, size);
  const masked = allocate(dtype, size);
  const keepAll = allocate(dtype, size);
  const weights = allocate(dtype, size);
  const output = allocate(dtype, batch * L * Ev);

  const keep = new Uint8Array(S);
  const logits = new Float64Array(S);
  const rowWeights = new Float64Array(S);
  const row = new Float64Array(Ev);

  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < L; i++) {
      const base = (b * L + i) * S;
      const kept = keepRow(call, b, i, 0, S, keep);

      for (let j = 0; j < S; j++) {
        let dot = 0;
        const qRow = q.offsets[b] + i * E;
        const kRow = k.offsets[b] + j * E;
        let x = 0;
        for (let e = 0; e < E; e++) {
          dot += q.data[qRow + e] * k.data[kRow + e];
          x += q.data[qRow + e] * scale * k.data[kRow + e];
        }
        if (softcap > 0) x = softcap * Math.tanh(x / softcap);
        scores[base + j] = dot;
        scaled[base + j] = x;
        if (keep[j] === 0) {
          logits[j] = -Infinity;
        } else {
          logits[j] =
            bias === null
              ? x
              : x + bias.data[bias.offsets[b] + i * bias.rowStride + j * bias.colStride];
        }
        masked[base + j] = logits[j];
        keepAll[base + j] = keep[j];
      }

      softmaxKept(logits, keep, S, kept, rowWeights);
      weights.set(rowWeights, base);
      row.fill(0);
      if (kept > 0) weightValues(call, b, 0, S, keep, rowWeights, row, 0);
      output.set(row, (b * L + i) * Ev);
    }
  }

  const shape = [...call.batchShape, L, S];
  return {
    scores: new Tensor(scores, shape),
    scaled: new Tensor(scaled, shape),
    masked: new Tensor(masked, shape),
    keep: new Tensor(keepAll, shape),
    weights: new Tensor(weights, shape),
    output: new Tensor(output, [...call.batchShape, L, Ev]),
  };
}
