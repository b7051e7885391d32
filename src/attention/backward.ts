// Gradients of attention: dQ, dK and dV of sum(output * dOutput).
//
// The forward pass is recomputed one query row at a time (as FlashAttention
// does), so this needs only Q, K, V, the mask and options, and dOutput; no
// L x S buffer is kept between rows.
//
// For one row with weights P (S), logits z and dO = dOutput[i] (Ev):
//   dV[j] += P[j] * dO
//   dP[j]  = dO . V[j]
//   dz[j]  = P[j] * (dP[j] - sum_t P[t] * dP[t])      (softmax backward)
//   ds[j]  = dz[j] * (1 - tanh(s[j] / softcap)^2)     (softcap backward, if on)
//   dQ[i] += scale * sum_j ds[j] * K[j]
//   dK[j] += scale * ds[j] * Q[i]
// Masked keys are skipped, so their gradients are exactly 0 even when they
// hold NaN, and a fully masked row contributes nothing.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev).

import type { AttentionCall, Operand } from "../normalize.js";
import { allocate, Tensor } from "../tensor.js";
import { attendRow, rowScratch } from "./rows.js";

/** Gradients with the shapes of Q, K and V (summed over broadcast dims). */
export interface AttentionGradients {
  dQ: Tensor;
  dK: Tensor;
  dV: Tensor;
}

/** Computes the gradients of a normalized call for the output gradient `dOut` (..., L, Ev). */
export function runBackward(call: AttentionCall, dOut: Operand): AttentionGradients {
  const { batch, L, S, E, Ev, dtype, q, k, v, scale, softcap } = call;
  const dQ = new Float64Array(q.data.length);
  const dK = new Float64Array(k.data.length);
  const dV = new Float64Array(v.data.length);
  const scratch = rowScratch(S);
  const dLogits = new Float64Array(S);

  for (let b = 0; b < batch; b++) {
    const qBase = q.offsets[b];
    const kBase = k.offsets[b];
    const vBase = v.offsets[b];
    const oBase = dOut.offsets[b];
    for (let i = 0; i < L; i++) {
      const kept = attendRow(call, b, i, scratch);
      if (kept === 0) continue;
      const { keep, weights, scaled } = scratch;
      const dORow = oBase + i * Ev;

      // dV and dP, then the softmax backward.
      let weightedSum = 0;
      for (let j = 0; j < S; j++) {
        if (keep[j] === 0) continue;
        const vRow = vBase + j * Ev;
        let dP = 0;
        for (let e = 0; e < Ev; e++) {
          const g = dOut.data[dORow + e];
          dV[vRow + e] += weights[j] * g;
          dP += g * v.data[vRow + e];
        }
        dLogits[j] = dP;
        weightedSum += weights[j] * dP;
      }

      // Through the softcap and the scale, into dQ and dK.
      const qRow = qBase + i * E;
      for (let j = 0; j < S; j++) {
        if (keep[j] === 0) continue;
        let ds = weights[j] * (dLogits[j] - weightedSum);
        if (softcap > 0) {
          const t = Math.tanh(scaled[j] / softcap);
          ds *= 1 - t * t;
        }
        ds *= scale;
        const kRow = kBase + j * E;
        for (let e = 0; e < E; e++) {
          dQ[qRow + e] += ds * k.data[kRow + e];
          dK[kRow + e] += ds * q.data[qRow + e];
        }
      }
    }
  }

  const wrap = (grad: Float64Array, shape: readonly number[]): Tensor => {
    const data = allocate(dtype, grad.length);
    data.set(grad);
    return new Tensor(data, shape);
  };
  return { dQ: wrap(dQ, q.shape), dK: wrap(dK, k.shape), dV: wrap(dV, v.shape) };
}
