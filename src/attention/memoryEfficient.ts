// Attention that never allocates an L x S buffer (FlashAttention's tiling on
// a CPU): queries go through in tiles of QUERY_TILE rows, keys in blocks of
// KEY_BLOCK. Each query row keeps a running maximum, a running sum of
// exponentials and a partial output (the online softmax), and rescales them
// whenever its maximum grows. Key blocks outside the causal/window band of a
// query tile are skipped, and within a block each 4-row register tile reads
// only the keys in its own band.
//
// Extra memory is O(QUERY_TILE * (E + Ev) + KEY_BLOCK * (E + Ev)) plus one
// byte per key block for the finiteness of V, whatever L and S are.
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

/** Keys per block. */
export const KEY_BLOCK = 64;

/** Query rows per tile: the tile's Q rows and one K block stay in cache together. */
export const QUERY_TILE = 64;

/** Runs a normalized call with the online softmax; returns the output (..., L, Ev). */
export function runMemoryEfficient(call: AttentionCall): Tensor {
  const { batch, L, S, Ev, dtype } = call;
  const output = allocateResult(call.where, "the output (..., L, Ev) =", dtype, [
    ...call.batchShape,
    L,
    Ev,
  ]);
  if (L > 0 && S > 0) {
    const units = batch * Math.ceil(L / QUERY_TILE);
    if (!runInParallel("online", call, units, output, null)) {
      attendUnitsOnline(call, countUnits(units), output, selectWasmKernels(wasmRequested()));
    }
  }
  return new Tensor(output, [...call.batchShape, L, Ev]);
}

/**
 * Computes the work units that `next` hands out (-1 when none is left) into
 * the zero-filled `output` (..., L, Ev). Unit u is batch
 * `floor(u / ceil(L / QUERY_TILE))` and one tile of QUERY_TILE query rows.
 * The products run in `wasm` when given and its memory can hold the
 * scratch, else in the TypeScript kernels.
 */
export function attendUnitsOnline(
  call: AttentionCall,
  next: () => number,
  output: Float64Array | Float32Array,
  wasm: WasmKernels | null = null,
): void {
  const { L, S, E, Ev, k, v } = call;
  const tileRows = QUERY_TILE;
  const unitsPerBatch = Math.ceil(L / QUERY_TILE);
  const block = Math.min(KEY_BLOCK, S);
  const blocks = Math.ceil(S / block);

  const queries = new Float64Array(tileRows * E);
  const runningMax = new Float64Array(tileRows);
  const runningSum = new Float64Array(tileRows);
  const keptTotal = new Float64Array(tileRows);
  // probabilities: (TILE_ROWS, block). values: a V block as (block, Ev) for
  // the WebAssembly kernel, transposed to (Ev, block) for the TypeScript one.
  const scratch =
    wasm?.scratch([TILE_ROWS * block, tileRows * Ev, block * E, block * Ev], E) ?? null;
  const kernels = scratch === null ? null : wasm;
  const probabilities = scratch?.[0] ?? new Float64Array(TILE_ROWS * block);
  const acc = scratch?.[1] ?? new Float64Array(tileRows * Ev);
  const keyBuffer =
    scratch?.[2] ?? new Float64Array(k.data instanceof Float64Array ? 0 : block * E);
  const values = scratch?.[3] ?? new Float64Array(Ev * block);
  const keys: RowView = { data: keyBuffer, base: 0 };
  const finiteBlocks = new Uint8Array(blocks);
  const keep = new Uint8Array(block);
  const stats: RowStats = { kept: 0, max: 0 };

  let loaded = -1;

  for (let unit = next(); unit >= 0; unit = next()) {
    const b = Math.floor(unit / unitsPerBatch);
    if (b !== loaded) {
      for (let n = 0; n < blocks; n++) {
        finiteBlocks[n] = valuesFinite(call, b, n * block, Math.min(S, (n + 1) * block)) ? 1 : 0;
      }
      loaded = b;
    }
    const t0 = (unit % unitsPerBatch) * tileRows;
    const rowsInTile = Math.min(tileRows, L - t0);
    const lo = Math.max(0, t0 + call.offset - call.windowLeft);
    const hi = Math.min(S - 1, t0 + rowsInTile - 1 + call.offset + call.windowRight);
    if (lo > hi) continue; // every row fully masked: output stays 0

    loadQueryRows(call, b, t0, rowsInTile, queries, 0);
    runningMax.fill(-Infinity);
    runningSum.fill(0);
    keptTotal.fill(0);
    acc.fill(0);

    for (let j0 = Math.floor(lo / block) * block; j0 <= hi; j0 += block) {
      const j1 = Math.min(S, j0 + block);
      if (kernels === null) {
        operandRows(k, b, E, j0, j1, keyBuffer, keys);
        transposeRows(v, b, Ev, j0, j1, values);
      } else {
        copyRows(k, b, E, j0, j1, keyBuffer);
        copyRows(v, b, Ev, j0, j1, values);
      }
      const finite = finiteBlocks[j0 / block] === 1;

      for (let u = 0; u < rowsInTile; u += TILE_ROWS) {
        const rows = Math.min(TILE_ROWS, rowsInTile - u);
        const i0 = t0 + u;
        const tileLo = Math.max(j0, i0 + call.offset - call.windowLeft);
        const tileHi = Math.min(j1 - 1, i0 + rows - 1 + call.offset + call.windowRight);
        if (tileLo > tileHi) continue;

        // probabilities[r * block + (j - j0)] for keys j in tileLo ..= tileHi.
        const base = -j0;
        if (kernels !== null) {
          kernels.dotTile(
            queries,
            u * E,
            E,
            keyBuffer,
            -j0 * E,
            E,
            E,
            tileLo,
            tileHi + 1,
            probabilities,
            base,
            block,
          );
        } else {
          dotTile(
            queries,
            u * E,
            E,
            keys.data,
            keys.base,
            E,
            E,
            tileLo,
            tileHi + 1,
            probabilities,
            base,
            block,
            false,
          );
        }

        for (let r = 0; r < TILE_ROWS; r++) {
          const rowBase = r * block + base;
          if (r >= rows) {
            probabilities.fill(0, rowBase + tileLo, rowBase + tileHi + 1);
            continue;
          }
          const row = u + r;
          maskLogits(call, b, i0 + r, probabilities, rowBase, tileLo, tileHi, stats);
          if (stats.kept === 0) {
            probabilities.fill(0, rowBase + tileLo, rowBase + tileHi + 1);
            continue;
          }
          keptTotal[row] += stats.kept;

          // A block whose kept logits are all -Infinity (overflow of huge
          // inputs) adds nothing and leaves the running maximum alone, so a
          // later block with finite logits still gives the exact result.
          const previous = runningMax[row];
          const max = stats.max > previous ? stats.max : previous;
          if (max === -Infinity) {
            let sum = 0;
            for (let j = rowBase + tileLo; j <= rowBase + tileHi; j++) {
              const p = Number.isNaN(probabilities[j]) ? NaN : 0;
              probabilities[j] = p;
              sum += p;
            }
            runningSum[row] += sum;
          } else {
            const rescale = previous === max ? 1 : Math.exp(previous - max);
            if (rescale !== 1) {
              runningSum[row] *= rescale;
              for (let e = row * Ev; e < (row + 1) * Ev; e++) acc[e] *= rescale;
            }
            let sum = 0;
            for (let j = rowBase + tileLo; j <= rowBase + tileHi; j++) {
              const p = expNonPositive(probabilities[j] - max);
              probabilities[j] = p;
              sum += p;
            }
            runningSum[row] += sum;
            runningMax[row] = max;
          }
        }

        if (finite && kernels !== null) {
          kernels.weightTile(
            probabilities,
            base,
            block,
            values,
            -j0 * Ev,
            Ev,
            Ev,
            tileLo,
            tileHi + 1,
            acc,
            u * Ev,
          );
        } else if (finite) {
          weightTile(
            probabilities,
            base,
            block,
            values,
            -j0,
            j1 - j0,
            Ev,
            tileLo,
            tileHi + 1,
            acc,
            u * Ev,
          );
        } else {
          // Non-finite V in this block: skip masked keys one by one.
          for (let r = 0; r < rows; r++) {
            keepRow(call, b, i0 + r, j0, j1 - j0, keep);
            const start = r * block;
            weightValues(
              call,
              b,
              j0,
              j1 - j0,
              keep,
              probabilities.subarray(start, start + block),
              acc,
              (u + r) * Ev,
            );
          }
        }
      }
    }

    for (let row = 0; row < rowsInTile; row++) {
      if (keptTotal[row] === 0) continue; // fully masked row: output stays 0
      // NOTE: kept logits that are all -Infinity leave the sum at 0, and 1 / 0
      // times 0 makes the row NaN, as in the exact path: overflow, not masking.
      const inverse = 1 / runningSum[row];
      const outBase = (b * L + t0 + row) * Ev;
      for (let e = 0; e < Ev; e++) output[outBase + e] = acc[row * Ev + e] * inverse;
    }
  }
}
