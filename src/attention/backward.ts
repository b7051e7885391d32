// Gradients of attention: dQ, dK and dV of sum(output * dOutput).
//
// The forward pass is recomputed (as FlashAttention does), so this needs
// only Q, K, V, the mask and options, and dOutput. For one query row i with
// weights P (S), logits z and dO = dOutput[i] (Ev):
//   dV[j] += P[j] * dO
//   dP[j]  = dO . V[j]
//   dz[j]  = P[j] * (dP[j] - sum_t P[t] * dP[t])      (softmax backward)
//   ds[j]  = dz[j] * (1 - tanh(s[j] / softcap)^2)     (softcap backward, if on)
//   dQ[i] += scale * sum_j ds[j] * K[j]
//   dK[j] += scale * ds[j] * Q[i]
//
// runBackward works on blocks of query rows with the forward pass's register
// tiles. Per tile of 4 rows, dotTile computes the scaled logits (scale folded
// into the query copy) and dO V^T over the tile's causal/window band. The rows
// are then masked and softmaxed in place, and weightTile adds dS K into dQ.
// Per block, weightTile adds dS^T Q and P^T dO into per-batch accumulators of
// dK and dV. Arithmetic is float64 for both dtypes.
//
// A masked key has weight 0, and 0 times a finite value adds exactly 0, so
// the tiles may run over masked keys only while Q, K, V and dOutput of the
// batch are finite. Otherwise that batch goes row by row (as in
// runBackwardRows), which skips masked keys one by one, so NaN or Infinity
// stored there never leaks.
//
// NOTE: the backward pass runs on the calling thread only, because query
// blocks on two threads would add into the same rows of dK and dV. Its
// scratch is about 8 (2 S (E + Ev) + 256 S) bytes, in the WebAssembly
// module's memory when those kernels run, and that memory never shrinks.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev).

import type { AttentionCall, Operand } from "../normalize.js";
import { allocate, Tensor } from "../tensor.js";
import { dotTile, TILE_ROWS, weightTile } from "./blocked.js";
import { attendRow, rowScratch, type RowScratch } from "./rows.js";
import { softmaxInPlace } from "./sdpa.js";
import { copyRows, loadQueryRows, maskLogits, type RowStats } from "./tile.js";
import { selectWasmKernels, wasmRequested, type WasmKernels } from "./wasm/kernels.js";

/** Gradients with the shapes of Q, K and V (summed over broadcast dims). */
export interface AttentionGradients {
  dQ: Tensor;
  dK: Tensor;
  dV: Tensor;
}

/** Largest number of query rows in a block (a multiple of TILE_ROWS). */
const BLOCK_ROWS = 64;

/** Block rows times keys is kept at or under this, so the block buffers stay O(S). */
const BLOCK_LOGITS = 1 << 20;

/** Float64 gradient accumulators with the layout of the q, k and v operands. */
interface Accumulators {
  dQ: Float64Array;
  dK: Float64Array;
  dV: Float64Array;
}

function wrapGradients(call: AttentionCall, grads: Accumulators): AttentionGradients {
  const wrap = (grad: Float64Array, shape: readonly number[]): Tensor => {
    const data = allocate(call.dtype, grad.length);
    data.set(grad);
    return new Tensor(data, shape);
  };
  return {
    dQ: wrap(grads.dQ, call.q.shape),
    dK: wrap(grads.dK, call.k.shape),
    dV: wrap(grads.dV, call.v.shape),
  };
}

function accumulators(call: AttentionCall): Accumulators {
  return {
    dQ: new Float64Array(call.q.data.length),
    dK: new Float64Array(call.k.data.length),
    dV: new Float64Array(call.v.data.length),
  };
}

/**
 * Computes the gradients of a normalized call for the output gradient `dOut`
 * (..., L, Ev) one query row at a time with plain loops. This is the
 * reference that the tiled {@link runBackward} is tested against, and the
 * path it takes for a batch with non-finite values.
 */
export function runBackwardRows(call: AttentionCall, dOut: Operand): AttentionGradients {
  const grads = accumulators(call);
  const scratch = rowScratch(call.S);
  const dLogits = new Float64Array(call.S);
  for (let b = 0; b < call.batch; b++) {
    for (let i = 0; i < call.L; i++) backwardRow(call, dOut, b, i, scratch, dLogits, grads);
  }
  return wrapGradients(call, grads);
}

/** Adds the gradients of query row `i` of batch `b` to `grads`, skipping masked keys. */
function backwardRow(
  call: AttentionCall,
  dOut: Operand,
  b: number,
  i: number,
  scratch: RowScratch,
  dLogits: Float64Array,
  grads: Accumulators,
): void {
  const { S, E, Ev, q, k, v, scale, softcap } = call;
  const { dQ, dK, dV } = grads;
  const kept = attendRow(call, b, i, scratch);
  if (kept === 0) return;
  const { keep, weights, scaled } = scratch;
  const qBase = q.offsets[b];
  const kBase = k.offsets[b];
  const vBase = v.offsets[b];
  const dORow = dOut.offsets[b] + i * Ev;

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

/** Returns whether `count` values of `data` from `start` are all finite. */
function allFinite(data: ArrayLike<number>, start: number, count: number): boolean {
  const end = start + count;
  for (let t = start; t < end; t++) {
    // x - x is 0 for finite x and NaN for NaN and +-Infinity.
    if (data[t] - data[t] !== 0) return false;
  }
  return true;
}

/** Copies rows `i0 .. i0 + rows` of an operand (cols wide) transposed: `out[c * stride + t]`. */
function transposeInto(
  src: ArrayLike<number>,
  start: number,
  cols: number,
  rows: number,
  out: Float64Array,
  stride: number,
): void {
  for (let t = 0; t < rows; t++) {
    const row = start + t * cols;
    for (let c = 0; c < cols; c++) out[c * stride + t] = src[row + c];
  }
}

/**
 * Computes the gradients of a normalized call for the output gradient `dOut`
 * (..., L, Ev), block by block with the register-tile kernels. The products
 * run in the WebAssembly kernels when they are available and requested
 * (DOTATTN_WASM is not "0"), else in the TypeScript ones.
 */
export function runBackward(call: AttentionCall, dOut: Operand): AttentionGradients {
  const grads = accumulators(call);
  const { batch, L, S, E, Ev, q, k, v, scale, softcap } = call;
  if (L === 0 || S === 0) return wrapGradients(call, grads);

  const blockRows = Math.max(
    TILE_ROWS,
    Math.min(BLOCK_ROWS, Math.floor(BLOCK_LOGITS / S / TILE_ROWS) * TILE_ROWS),
  );
  // The 4-key tiles of dK and dV may run up to TILE_ROWS - 1 rows past the last key.
  const paddedS = S + TILE_ROWS;
  const lengths = [
    S * E, // keys, row-major
    S * Ev, // values, row-major
    blockRows * S, // weights P of the block
    blockRows * S, // dS of the block
    TILE_ROWS * S, // dP of one tile
    paddedS * blockRows, // P transposed: key j, query t at j * blockRows + t
    paddedS * blockRows, // dS transposed
    blockRows * E, // queries of the block, unscaled
    blockRows * Ev, // dOutput rows of the block
    paddedS * E, // dK of the batch
    paddedS * Ev, // dV of the batch
    TILE_ROWS * E, // dQ of one tile
  ];
  const wasm = selectWasmKernels(wasmRequested());
  const scratch = wasm?.scratch(lengths, Math.max(E, Ev)) ?? null;
  const kernels: WasmKernels | null = scratch === null ? null : wasm;
  const [keys, values, P, dS, dP, PT, dST, qBlock, dOBlock, dKb, dVb, dQTile] =
    scratch ?? lengths.map((n) => new Float64Array(n));
  // The TypeScript weightTile reads its right-hand operand transposed.
  const keysT = kernels === null ? new Float64Array(E * S) : null;
  const qBlockT = kernels === null ? new Float64Array(E * blockRows) : null;
  const dOBlockT = kernels === null ? new Float64Array(Ev * blockRows) : null;

  const queries = new Float64Array(TILE_ROWS * E);
  const raw = softcap > 0 ? new Float64Array(TILE_ROWS * S) : null;
  const stats: RowStats = { kept: 0, max: 0 };
  const rowScratchBuffers = rowScratch(S);
  const dLogits = new Float64Array(S);
  const nanRows: number[] = [];

  const products = (
    w: Float64Array,
    wBase: number,
    wStride: number,
    right: Float64Array,
    rightT: Float64Array | null,
    rightTStride: number,
    cols: number,
    j0: number,
    j1: number,
    acc: Float64Array,
    accBase: number,
  ): void => {
    if (kernels !== null) {
      kernels.weightTile(w, wBase, wStride, right, 0, cols, cols, j0, j1, acc, accBase);
    } else {
      weightTile(w, wBase, wStride, rightT!, 0, rightTStride, cols, j0, j1, acc, accBase);
    }
  };

  for (let b = 0; b < batch; b++) {
    const qBase = q.offsets[b];
    const kBase = k.offsets[b];
    const vBase = v.offsets[b];
    const oBase = dOut.offsets[b];
    if (
      !allFinite(q.data, qBase, L * E) ||
      !allFinite(k.data, kBase, S * E) ||
      !allFinite(v.data, vBase, S * Ev) ||
      !allFinite(dOut.data, oBase, L * Ev)
    ) {
      for (let i = 0; i < L; i++) {
        backwardRow(call, dOut, b, i, rowScratchBuffers, dLogits, grads);
      }
      continue;
    }
    copyRows(k, b, E, 0, S, keys);
    copyRows(v, b, Ev, 0, S, values);
    if (keysT !== null) transposeInto(k.data, kBase, E, S, keysT, S);
    dKb.fill(0);
    dVb.fill(0);

    for (let start = 0; start < L; start += blockRows) {
      const rows = Math.min(blockRows, L - start);
      // Keys that any query of the block may see.
      const blo = Math.max(0, start + call.offset - call.windowLeft);
      const bhi = Math.min(S - 1, start + rows - 1 + call.offset + call.windowRight);
      if (blo > bhi) continue; // every row fully masked: no gradient

      copyRows(q, b, E, start, start + rows, qBlock);
      copyRows(dOut, b, Ev, start, start + rows, dOBlock);
      dOBlock.fill(0, rows * Ev, Math.ceil(rows / TILE_ROWS) * TILE_ROWS * Ev);
      const tiles = Math.ceil(rows / TILE_ROWS) * TILE_ROWS;
      for (let r = 0; r < tiles; r++) {
        P.fill(0, r * S + blo, r * S + bhi + 1);
        dS.fill(0, r * S + blo, r * S + bhi + 1);
      }

      for (let t0 = 0; t0 < rows; t0 += TILE_ROWS) {
        const i0 = start + t0;
        const tileRows = Math.min(TILE_ROWS, rows - t0);
        const lo = Math.max(0, i0 + call.offset - call.windowLeft);
        const hi = Math.min(S - 1, i0 + tileRows - 1 + call.offset + call.windowRight);
        if (lo > hi) continue;
        const pBase = t0 * S;

        // Logits, softmax in place: the forward pass of the tile.
        loadQueryRows(call, b, i0, tileRows, queries, 0);
        if (kernels === null) {
          dotTile(queries, 0, E, keys, 0, E, E, lo, hi + 1, P, pBase, S, false);
          dotTile(dOBlock, t0 * Ev, Ev, values, 0, Ev, Ev, lo, hi + 1, dP, 0, S, false);
        } else {
          kernels.dotTile(queries, 0, E, keys, 0, E, E, lo, hi + 1, P, pBase, S);
          kernels.dotTile(dOBlock, t0 * Ev, Ev, values, 0, Ev, Ev, lo, hi + 1, dP, 0, S);
        }
        if (raw !== null) raw.set(P.subarray(pBase, pBase + TILE_ROWS * S));

        for (let r = 0; r < TILE_ROWS; r++) {
          const row = pBase + r * S;
          if (r >= tileRows) {
            P.fill(0, row + lo, row + hi + 1);
            continue;
          }
          maskLogits(call, b, i0 + r, P, row, lo, hi, stats);
          softmaxInPlace(P, row, lo, hi, stats);
          if (stats.kept === 0) continue;
          if (Number.isNaN(stats.max)) {
            // A NaN row (overflowing logits) goes row by row, as the reference.
            P.fill(0, row + lo, row + hi + 1);
            nanRows.push(i0 + r);
            continue;
          }
          // Softmax backward, then the softcap and the scale: dS of the row.
          const dPRow = r * S;
          let weightedSum = 0;
          for (let j = lo; j <= hi; j++) weightedSum += P[row + j] * dP[dPRow + j];
          for (let j = lo; j <= hi; j++) {
            let ds = P[row + j] * (dP[dPRow + j] - weightedSum);
            if (raw !== null) {
              const th = Math.tanh(raw[r * S + j] / softcap);
              ds *= 1 - th * th;
            }
            dS[row + j] = ds * scale;
          }
        }

        // dQ of the tile: dS K.
        dQTile.fill(0);
        products(dS, pBase, S, keys, keysT, S, E, lo, hi + 1, dQTile, 0);
        const qRow = qBase + i0 * E;
        for (let t = 0; t < tileRows * E; t++) grads.dQ[qRow + t] += dQTile[t];
      }

      // dK += dS^T Q and dV += P^T dO over the block's keys, 4 keys at a time.
      const kEnd = Math.ceil((bhi + 1 - blo) / TILE_ROWS) * TILE_ROWS + blo;
      for (let j = blo; j < kEnd; j++) {
        const out = j * blockRows;
        if (j > bhi) {
          PT.fill(0, out, out + rows);
          dST.fill(0, out, out + rows);
          continue;
        }
        for (let t = 0; t < rows; t++) {
          PT[out + t] = P[t * S + j];
          dST[out + t] = dS[t * S + j];
        }
      }
      if (qBlockT !== null && dOBlockT !== null) {
        transposeInto(qBlock, 0, E, rows, qBlockT, blockRows);
        transposeInto(dOBlock, 0, Ev, rows, dOBlockT, blockRows);
      }
      for (let j = blo; j < kEnd; j += TILE_ROWS) {
        const w = j * blockRows;
        products(dST, w, blockRows, qBlock, qBlockT, blockRows, E, 0, rows, dKb, j * E);
        products(PT, w, blockRows, dOBlock, dOBlockT, blockRows, Ev, 0, rows, dVb, j * Ev);
      }
    }

    for (let t = 0; t < S * E; t++) grads.dK[kBase + t] += dKb[t];
    for (let t = 0; t < S * Ev; t++) grads.dV[vBase + t] += dVb[t];
    for (const i of nanRows) backwardRow(call, dOut, b, i, rowScratchBuffers, dLogits, grads);
    nanRows.length = 0;
  }
  return wrapGradients(call, grads);
}
