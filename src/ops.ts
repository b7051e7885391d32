// Broadcasting, matmul and softmax on tensors.

import { formatShape, formatValue } from "./format.js";
import { allocate, normalizeDim, shapeSize, Tensor } from "./tensor.js";

/**
 * Returns the broadcast of several shapes, aligned at their last dims as in
 * NumPy and PyTorch: each dim is equal across shapes or 1.
 *
 * @throws {RangeError} naming the two arguments whose dims disagree.
 */
export function broadcastShapes(
  shapes: readonly (readonly number[])[],
  names: readonly string[],
  where: string,
  what = "leading dims",
): number[] {
  const ndim = Math.max(0, ...shapes.map((s) => s.length));
  const result = new Array<number>(ndim).fill(1);
  const owner = new Array<number>(ndim).fill(-1);
  shapes.forEach((shape, k) => {
    for (let d = 0; d < shape.length; d++) {
      const r = ndim - shape.length + d;
      const dim = shape[d];
      if (dim === 1) continue;
      if (result[r] === 1) {
        result[r] = dim;
        owner[r] = k;
      } else if (result[r] !== dim) {
        const other = owner[r];
        throw new RangeError(
          `${where}: the ${what} ${formatShape(shapes[other])} of ${names[other]} and ` +
            `${formatShape(shape)} of ${names[k]} are not broadcastable (dim ${r - ndim} is ` +
            `${shapes[other][shapes[other].length - ndim + r]} vs ${dim}); expected each dim ` +
            `to be equal or 1`,
        );
      }
    }
  });
  return result;
}

/**
 * Returns strides that read a tensor of `shape` (with `strides`) as if it had
 * the broadcast shape `target`: broadcast dims get stride 0. The caller has
 * checked that the shapes broadcast.
 */
export function broadcastStrides(
  shape: readonly number[],
  strides: readonly number[],
  target: readonly number[],
): number[] {
  const out = new Array<number>(target.length).fill(0);
  const shift = target.length - shape.length;
  for (let d = 0; d < shape.length; d++) {
    out[shift + d] = shape[d] === 1 ? 0 : strides[d];
  }
  return out;
}

/**
 * Calls `visit(flatIndex, offsets)` for every index of `shape` in row-major
 * order, with the data offset of each strided operand at that index.
 */
export function forEachIndex(
  shape: readonly number[],
  operands: readonly { strides: readonly number[]; offset: number }[],
  visit: (flat: number, offsets: readonly number[]) => void,
): void {
  const count = shapeSize(shape);
  const ndim = shape.length;
  const index = new Array<number>(ndim).fill(0);
  const offsets = operands.map((o) => o.offset);
  for (let flat = 0; flat < count; flat++) {
    visit(flat, offsets);
    for (let d = ndim - 1; d >= 0; d--) {
      index[d]++;
      for (let k = 0; k < operands.length; k++) offsets[k] += operands[k].strides[d];
      if (index[d] < shape[d]) break;
      for (let k = 0; k < operands.length; k++) offsets[k] -= index[d] * operands[k].strides[d];
      index[d] = 0;
    }
  }
}

function checkTensor(value: unknown, where: string, name: string, minDims: number): Tensor {
  if (!(value instanceof Tensor)) {
    throw new TypeError(`${where}: ${name} is ${formatValue(value)}; expected a Tensor`);
  }
  if (value.ndim < minDims) {
    throw new RangeError(
      `${where}: ${name} has shape ${formatShape(value.shape)}; expected at least ${minDims} dims`,
    );
  }
  return value;
}

/**
 * Multiplies matrices: `a (..., M, K)` times `b (..., K, N)` gives `(..., M, N)`,
 * with the leading dims broadcast.
 *
 * @example
 * matmul(tensor([[1, 2]]), tensor([[3], [4]])).toArray(); // [[11]]
 *
 * @throws {TypeError} when an argument is not a Tensor or the dtypes differ.
 * @throws {RangeError} when an argument has fewer than 2 dims, the inner dims differ or the leading dims do not broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const where = "matmul";
  checkTensor(a, where, "a", 2);
  checkTensor(b, where, "b", 2);
  if (a.dtype !== b.dtype) {
    throw new TypeError(
      `${where}: a is ${a.dtype} and b is ${b.dtype}; expected the same dtype (convert with astype)`,
    );
  }
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) {
    throw new RangeError(
      `${where}: a ${formatShape(a.shape)} has ${k} columns but b ${formatShape(b.shape)} has ` +
        `${k2} rows; expected a (..., M, K) and b (..., K, N)`,
    );
  }
  const lead = broadcastShapes([a.shape.slice(0, -2), b.shape.slice(0, -2)], ["a", "b"], where);
  const aa = a.contiguous();
  const bb = b.contiguous();
  const aLead = {
    strides: broadcastStrides(a.shape.slice(0, -2), leadStrides(a.shape, m * k), lead),
    offset: 0,
  };
  const bLead = {
    strides: broadcastStrides(b.shape.slice(0, -2), leadStrides(b.shape, k * n), lead),
    offset: 0,
  };
  const out = allocate(a.dtype, shapeSize(lead) * m * n);
  forEachIndex(lead, [aLead, bLead], (flat, [aOff, bOff]) => {
    const outOff = flat * m * n;
    for (let i = 0; i < m; i++) {
      const row = outOff + i * n;
      for (let p = 0; p < k; p++) {
        const x = aa.data[aOff + i * k + p];
        const bRow = bOff + p * n;
        for (let j = 0; j < n; j++) out[row + j] += x * bb.data[bRow + j];
      }
    }
  });
  return new Tensor(out, [...lead, m, n]);
}

/** Strides of the leading dims of a contiguous tensor whose last two dims hold `matrix` elements. */
function leadStrides(shape: readonly number[], matrix: number): number[] {
  const lead = shape.slice(0, -2);
  const strides = new Array<number>(lead.length);
  let stride = matrix;
  for (let d = lead.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= lead[d];
  }
  return strides;
}

/**
 * Applies a numerically stable softmax along `dim` (default the last):
 * `exp(x - max) / sum(exp(x - max))`. A slice whose entries are all
 * `-Infinity` gives zeros, not NaN, because no entry can receive weight.
 *
 * @example
 * softmax(tensor([[0, 0], [-Infinity, -Infinity]])).toArray(); // [[0.5, 0.5], [0, 0]]
 *
 * @throws {TypeError} when `x` is not a Tensor.
 * @throws {RangeError} when `dim` is out of range.
 */
export function softmax(x: Tensor, dim = -1): Tensor {
  const where = "softmax";
  checkTensor(x, where, "x", 0);
  if (x.ndim === 0) {
    // A scalar is a slice of one: softmax gives 1, or 0 for -Infinity.
    return softmax(x.reshape([1]), 0).reshape([]);
  }

  const axis = normalizeDim(dim, x.ndim, where, "dim");
  const moved = x.transpose(axis, -1).contiguous();
  const width = moved.shape[moved.ndim - 1];
  const out = allocate(x.dtype, moved.size);
  for (let start = 0; start < moved.size; start += width) {
    softmaxRow(moved.data, start, width, out);
  }
  return new Tensor(out, moved.shape).transpose(axis, -1).contiguous();
}

/** Writes the softmax of `source[start .. start + width)` into `out` at the same place. */
export function softmaxRow(
  source: ArrayLike<number>,
  start: number,
  width: number,
  out: { [i: number]: number },
): void {
  let max = -Infinity;
  for (let j = start; j < start + width; j++) if (source[j] > max) max = source[j];
  if (max === -Infinity) {
    for (let j = start; j < start + width; j++) out[j] = 0;
    return;
  }
  let sum = 0;
  for (let j = start; j < start + width; j++) {
    const e = Math.exp(source[j] - max);
    out[j] = e;
    sum += e;
  }
  for (let j = start; j < start + width; j++) out[j] /= sum;
}
