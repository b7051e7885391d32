// Attention that never allocates an L x S buffer: each query row walks the
// keys in blocks and keeps a running maximum and a running sum of
// exponentials (the online softmax), rescaling its partial output whenever
// the maximum grows.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev).

import type { AttentionCall } from "../normalize.js";
import { allocate, Tensor } from "../tensor.js";
import { keepRow, logitsRow } from "./rows.js";

/** Keys per block; the extra memory of a call is O(KEY_BLOCK + Ev). */
export const KEY_BLOCK = 128;

/** Runs a normalized call with the online softmax; returns the output (..., L, Ev). */
export function runMemoryEfficient(call: AttentionCall): Tensor {
  const { batch, L, S, Ev, dtype, v } = call;
  const output = allocate(dtype, batch * L * Ev);
  const block = Math.max(1, Math.min(KEY_BLOCK, S));
  const keep = new Uint8Array(block);
  const logits = new Float64Array(block);
  const acc = new Float64Array(Ev);

  for (let b = 0; b < batch; b++) {
    const vBase = v.offsets[b];
    for (let i = 0; i < L; i++) {
      let runningMax = -Infinity;
      let runningSum = 0;
      let keptTotal = 0;
      acc.fill(0);

      // Only blocks that overlap the causal/window band can hold kept keys.
      const bandLo = Math.max(0, i + call.offset - call.windowLeft);
      const bandHi = Math.min(S - 1, i + call.offset + call.windowRight);
      const firstBlock = Math.floor(bandLo / block) * block;

      for (let j0 = firstBlock; j0 <= bandHi; j0 += block) {
        const count = Math.min(block, S - j0);
        const kept = keepRow(call, b, i, j0, count, keep);
        if (kept === 0) continue;
        keptTotal += kept;
        logitsRow(call, b, i, j0, count, keep, logits);

        let blockMax = -Infinity;
        for (let t = 0; t < count; t++)
          if (keep[t] !== 0 && logits[t] > blockMax) blockMax = logits[t];
        // NOTE: kept logits that are all NaN or -Infinity make the row NaN, as
        // in the exact path; that is overflow or bad input, not masking.
        const newMax =
          blockMax > runningMax ? blockMax : runningMax === -Infinity ? NaN : runningMax;

        const rescale = Math.exp(runningMax - newMax);
        if (rescale !== 1) {
          runningSum *= rescale;
          for (let e = 0; e < Ev; e++) acc[e] *= rescale;
        }
        for (let t = 0; t < count; t++) {
          if (keep[t] === 0) continue;
          const p = Math.exp(logits[t] - newMax);
          runningSum += p;
          const vRow = vBase + (j0 + t) * Ev;
          for (let e = 0; e < Ev; e++) acc[e] += p * v.data[vRow + e];
        }
        runningMax = newMax;
      }

      const outBase = (b * L + i) * Ev;
      if (keptTotal === 0) continue; // fully masked row: output stays 0
      for (let e = 0; e < Ev; e++) output[outBase + e] = acc[e] / runningSum;
    }
  }

  return new Tensor(output, [...call.batchShape, L, Ev]);
}
