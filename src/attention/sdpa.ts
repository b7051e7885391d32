// Exact scaled dot-product attention that also returns the weights.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev).

import type { AttentionCall } from "../normalize.js";
import { allocate, Tensor } from "../tensor.js";
import { attendRow, rowScratch, weightValues } from "./rows.js";

/** Output (..., L, Ev) and weights (..., L, S) of an attention call. */
export interface AttentionResult {
  output: Tensor;
  weights: Tensor;
}

/** Runs a normalized call row by row, storing every weight. */
export function runAttention(call: AttentionCall): AttentionResult {
  const { batch, L, S, Ev, dtype } = call;
  const output = allocate(dtype, batch * L * Ev);
  const weights = allocate(dtype, batch * L * S);
  const scratch = rowScratch(S);
  const row = new Float64Array(Ev);

  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < L; i++) {
      const kept = attendRow(call, b, i, scratch);
      weights.set(scratch.weights, (b * L + i) * S);

      row.fill(0);
      if (kept > 0) weightValues(call, b, 0, S, scratch.keep, scratch.weights, row, 0);
      output.set(row, (b * L + i) * Ev);
    }
  }

  return {
    output: new Tensor(output, [...call.batchShape, L, Ev]),
    weights: new Tensor(weights, [...call.batchShape, L, S]),
  };
}
