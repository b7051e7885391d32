// Exact scaled dot-product attention that also returns the weights.
//
// Queries go through in tiles of TILE_ROWS rows. For each tile the kernel
// computes the scaled dot products with every key in the tile's causal/window
// band (dotTile), masks and softmaxes each row in place, stores the weights,
// and multiplies them by V (weightTile). Keys outside the band of the whole
// tile are never read. Arithmetic is float64 for both dtypes. With
// WebAssembly SIMD (see wasm/kernels.ts) the two products run there, on
// copies of K and V in the module's memory, with the same bits as a result.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev).

import type { AttentionCall } from "../normalize.js";
import { allocateResult, Tensor } from "../tensor.js";
import { dotTile, expNonPositive, TILE_ROWS, weightTile } from "./blocked.js";
import { keepRow, weightValues } from "./rows.js";
import {
  copyRows,
  loadQueryRows,
  maskLogits,
  operandRows,
  transposeRows,
  valuesFinite,
} from "./tile.js";
import type { RowStats, RowView } from "./tile.js";
import { countUnits, runInParallel } from "./parallel.js";
import { selectWasmKernels, wasmRequested, type WasmKernels } from "./wasm/kernels.js";

/** Output (..., L, Ev) and weights (..., L, S) of an attention call. */
export interface AttentionResult {
  output: Tensor;
  weights: Tensor;
}

/** Query rows per work unit; a unit is one batch index and UNIT_ROWS query rows. */
export const UNIT_ROWS = 16;

/** Runs a normalized call tile by tile, storing every weight. */
export function runAttention(call: AttentionCall): AttentionResult {
  const { batch, L, S, Ev, dtype } = call;
  const weights = allocateResult(
    call.where,
    "the weights (..., L, S) =",
    dtype,
    [...call.batchShape, L, S],
    "; memoryEfficientAttention computes the output without them",
  );
  const output = allocateResult(call.where, "the output (..., L, Ev) =", dtype, [
    ...call.batchShape,
    L,
    Ev,
  ]);
  if (L > 0 && S > 0) {
    const units = batch * Math.ceil(L / UNIT_ROWS);
    if (!runInParallel("attention", call, units, output, weights)) {
      attendUnits(call, countUnits(units), output, weights, selectWasmKernels(wasmRequested()));
    }
  }
  return {
    output: new Tensor(output, [...call.batchShape, L, Ev]),
    weights: new Tensor(weights, [...call.batchShape, L, S]),
  };
}

/**
 * Computes the work units that `next` hands out (-1 when none is left) into
 * `output` (..., L, Ev) and `weights` (..., L, S), which must be zero-filled.
 * Unit u is batch `floor(u / ceil(L / UNIT_ROWS))` and UNIT_ROWS query rows.
 * The products run in `wasm` when given and its memory can hold the
 * scratch, else in the TypeScript kernels.
 */
export function attendUnits(
  call: AttentionCall,
  next: () => number,
  output: Float64Array | Float32Array,
  weights: Float64Array | Float32Array,
  wasm: WasmKernels | null = null,
): void {
  const { L, S, E, Ev, k, v } = call;
  const unitsPerBatch = Math.ceil(L / UNIT_ROWS);
  const queries = new Float64Array(TILE_ROWS * E);
  // scores: (TILE_ROWS, S) logits, then weights. values: V as (S, Ev) for
  // the WebAssembly kernel, transposed to (Ev, S) for the TypeScript one.
  const scratch = wasm?.scratch([TILE_ROWS * S, TILE_ROWS * Ev, S * E, S * Ev], E) ?? null;
  const kernels = scratch === null ? null : wasm;
  const scores = scratch?.[0] ?? new Float64Array(TILE_ROWS * S);
  const acc = scratch?.[1] ?? new Float64Array(TILE_ROWS * Ev);
  const keyBuffer = scratch?.[2] ?? new Float64Array(k.data instanceof Float64Array ? 0 : S * E);
  const values = scratch?.[3] ?? new Float64Array(Ev * S);
  const keys: RowView = { data: keyBuffer, base: 0 };
  const keep = new Uint8Array(S);
  const stats: RowStats = { kept: 0, max: 0 };
  let loaded = -1;
  let finite = true;

  for (let unit = next(); unit >= 0; unit = next()) {
    const b = Math.floor(unit / unitsPerBatch);
    if (b !== loaded) {
      if (kernels === null) {
        operandRows(k, b, E, 0, S, keyBuffer, keys);
        transposeRows(v, b, Ev, 0, S, values);
      } else {
        copyRows(k, b, E, 0, S, keyBuffer);
        copyRows(v, b, Ev, 0, S, values);
      }
      finite = valuesFinite(call, b, 0, S);
      loaded = b;
    }
    const unitStart = (unit % unitsPerBatch) * UNIT_ROWS;
    const unitEnd = Math.min(L, unitStart + UNIT_ROWS);

    for (let i0 = unitStart; i0 < unitEnd; i0 += TILE_ROWS) {
      const rows = Math.min(TILE_ROWS, unitEnd - i0);
      // Keys that any query of the tile may see.
      const lo = Math.max(0, i0 + call.offset - call.windowLeft);
      const hi = Math.min(S - 1, i0 + rows - 1 + call.offset + call.windowRight);
      if (lo > hi) continue; // every row fully masked: output and weights stay 0

      loadQueryRows(call, b, i0, rows, queries, 0);
      if (kernels === null) {
        dotTile(queries, 0, E, keys.data, keys.base, E, E, lo, hi + 1, scores, 0, S, false);
      } else {
        kernels.dotTile(queries, 0, E, keyBuffer, 0, E, E, lo, hi + 1, scores, 0, S);
      }

      for (let r = 0; r < TILE_ROWS; r++) {
        if (r >= rows) {
          scores.fill(0, r * S + lo, r * S + hi + 1);
          continue;
        }
        const i = i0 + r;
        maskLogits(call, b, i, scores, r * S, lo, hi, stats);
        softmaxInPlace(scores, r * S, lo, hi, stats);
        const rowStart = (b * L + i) * S;
        if (stats.kept === 0) continue;
        if (Number.isNaN(stats.max)) {
          // As in the row-wise reference, a NaN sum makes the whole row NaN.
          weights.fill(NaN, rowStart, rowStart + S);
          continue;
        }
        for (let j = lo; j <= hi; j++) weights[rowStart + j] = scores[r * S + j];
      }

      acc.fill(0);
      if (finite && kernels !== null) {
        kernels.weightTile(scores, 0, S, values, 0, Ev, Ev, lo, hi + 1, acc, 0);
      } else if (finite) {
        weightTile(scores, 0, S, values, 0, S, Ev, lo, hi + 1, acc, 0);
      } else {
        // Non-finite V: skip masked keys one by one so NaN cannot leak.
        for (let r = 0; r < rows; r++) {
          keepRow(call, b, i0 + r, 0, S, keep);
          weightValues(call, b, 0, S, keep, scores.subarray(r * S, r * S + S), acc, r * Ev);
        }
      }
      output.set(acc.subarray(0, rows * Ev), (b * L + i0) * Ev);
    }
  }
}

/**
 * Replaces the logits `s[base + lo ..= base + hi]` of one row by their
 * softmax; masked keys (-Infinity) get 0, and so does every key of a row with
 * no kept key. A row whose sum is NaN (a NaN logit, or kept logits that are
 * all -Infinity) becomes NaN, and `stats.max` is set to NaN to say so.
 */
export function softmaxInPlace(
  s: Float64Array,
  base: number,
  lo: number,
  hi: number,
  stats: RowStats,
): void {
  if (stats.kept === 0) {
    s.fill(0, base + lo, base + hi + 1);
    return;
  }
  // NOTE: kept logits that are all -Infinity (overflow of huge inputs) give a
  // NaN row, as in PyTorch: that is not masking.
  const max = stats.max === -Infinity ? NaN : stats.max;
  let sum = 0;
  for (let j = base + lo; j <= base + hi; j++) {
    const e = expNonPositive(s[j] - max);
    s[j] = e;
    sum += e;
  }
  if (Number.isNaN(sum)) {
    s.fill(NaN, base + lo, base + hi + 1);
    stats.max = NaN;
    return;
  }
  const inverse = 1 / sum;
  for (let j = base + lo; j <= base + hi; j++) s[j] *= inverse;
}
