// Helpers that prepare a tile of query rows and a block of keys for the
// blocked kernels in blocked.ts, and that turn a tile's raw dot products into
// masked logits one row at a time.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev).

import type { AttentionCall, Operand } from "../normalize.js";
import { TILE_ROWS } from "./blocked.js";

/**
 * Copies query rows `i0 .. i0 + rows` of batch `b`, multiplied by the scale,
 * into `out[outBase ..]` as float64, and zero-fills the rows up to the next
 * multiple of TILE_ROWS so a partial tile can run through the 4-row kernels.
 */
export function loadQueryRows(
  call: AttentionCall,
  b: number,
  i0: number,
  rows: number,
  out: Float64Array,
  outBase: number,
): void {
  const { q, E, scale } = call;
  const data = q.data;
  const src = q.offsets[b] + i0 * E;
  const n = rows * E;
  for (let t = 0; t < n; t++) out[outBase + t] = data[src + t] * scale;
  const padded = Math.ceil(rows / TILE_ROWS) * TILE_ROWS * E;
  out.fill(0, outBase + n, outBase + padded);
}

/** Float64 rows of an operand: row j of the block starts at `data[base + j * cols]`. */
export interface RowView {
  data: Float64Array;
  base: number;
}

/**
 * Returns a float64 view of rows `j0 .. j1` of a K or V operand in batch `b`.
 * A float64 operand is read in place; a float32 operand is converted into
 * `buffer` (which must hold `(j1 - j0) * cols` values), because loops that see
 * only Float64Array are faster in V8 than loops over both element types.
 */
export function operandRows(
  operand: Operand,
  b: number,
  cols: number,
  j0: number,
  j1: number,
  buffer: Float64Array,
  view: RowView,
): RowView {
  const data = operand.data;
  if (data instanceof Float64Array) {
    view.data = data;
    view.base = operand.offsets[b];
    return view;
  }
  const src = operand.offsets[b] + j0 * cols;
  const n = (j1 - j0) * cols;
  for (let t = 0; t < n; t++) buffer[t] = data[src + t];
  view.data = buffer;
  view.base = -j0 * cols;
  return view;
}

/**
 * Copies rows `j0 .. j1` of a K or V operand in batch `b` into `out` as
 * float64, row-major: element c of row j goes to `out[(j - j0) * cols + c]`.
 * The WebAssembly kernels need this copy even of float64 operands, because
 * they read only their own memory.
 */
export function copyRows(
  operand: Operand,
  b: number,
  cols: number,
  j0: number,
  j1: number,
  out: Float64Array,
): void {
  const data = operand.data;
  const src = operand.offsets[b] + j0 * cols;
  const n = (j1 - j0) * cols;
  for (let t = 0; t < n; t++) out[t] = data[src + t];
}

/**
 * Writes rows `j0 .. j1` of a V operand in batch `b` transposed into `out` as
 * float64: value feature e of key j goes to `out[e * (j1 - j0) + j - j0]`.
 */
export function transposeRows(
  operand: Operand,
  b: number,
  cols: number,
  j0: number,
  j1: number,
  out: Float64Array,
): void {
  const data = operand.data;
  const count = j1 - j0;
  let src = operand.offsets[b] + j0 * cols;
  for (let t = 0; t < count; t++, src += cols) {
    for (let e = 0; e < cols; e++) out[e * count + t] = data[src + e];
  }
}

/**
 * Returns whether the V rows `j0 .. j1` of batch `b` are all finite. Only
 * then may the kernels multiply a masked weight 0 by a V row: 0 times a
 * finite value adds exactly 0, while 0 times NaN or Infinity would leak NaN.
 */
export function valuesFinite(call: AttentionCall, b: number, j0: number, j1: number): boolean {
  const { v, Ev } = call;
  const data = v.data;
  const start = v.offsets[b] + j0 * Ev;
  const end = v.offsets[b] + j1 * Ev;
  for (let t = start; t < end; t++) {
    // x - x is 0 for finite x and NaN for NaN and +-Infinity.
    if (data[t] - data[t] !== 0) return false;
  }
  return true;
}

/** The kept count and maximum logit of one row, written by {@link maskLogits}. */
export interface RowStats {
  kept: number;
  max: number;
}

/**
 * Turns the scaled dot products `s[rowBase + j]` of query `i` (batch `b`) for
 * keys `lo ..= hi` into logits, in the order softcap, bias, masks: keys
 * outside the query's causal/window band, masked by `mask` or biased to
 * -Infinity become -Infinity. Writes how many keys are kept and the largest
 * kept logit into `stats`.
 */
export function maskLogits(
  call: AttentionCall,
  b: number,
  i: number,
  s: Float64Array,
  rowBase: number,
  lo: number,
  hi: number,
  stats: RowStats,
): void {
  const { softcap, mask, bias } = call;
  const a = Math.max(lo, i + call.offset - call.windowLeft);
  const c = Math.min(hi, i + call.offset + call.windowRight);
  for (let j = lo; j < a && j <= hi; j++) s[rowBase + j] = -Infinity;
  for (let j = Math.max(c + 1, lo); j <= hi; j++) s[rowBase + j] = -Infinity;

  let kept = 0;
  let max = -Infinity;
  if (softcap === 0 && mask === null && bias === null) {
    for (let j = a; j <= c; j++) {
      const x = s[rowBase + j];
      if (x > max) max = x;
    }
    kept = Math.max(0, c - a + 1);
  } else {
    const maskBase = mask === null ? 0 : mask.offsets[b] + i * mask.rowStride;
    const biasBase = bias === null ? 0 : bias.offsets[b] + i * bias.rowStride;
    for (let j = a; j <= c; j++) {
      let x = s[rowBase + j];
      if (softcap > 0) x = softcap * Math.tanh(x / softcap);
      if (bias !== null) {
        const add = bias.data[biasBase + j * bias.colStride];
        if (add === -Infinity) {
          s[rowBase + j] = -Infinity;
          continue;
        }
        x += add;
      }
      if (mask !== null && mask.data[maskBase + j * mask.colStride] === 0) {
        s[rowBase + j] = -Infinity;
        continue;
      }
      s[rowBase + j] = x;
      kept++;
      if (x > max) max = x;
    }
  }
  stats.kept = kept;
  stats.max = max;
}
