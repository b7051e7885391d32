// A small strided tensor: only what attention needs, done carefully.

import { formatShape, formatValue } from "./format.js";
import { flattenNested, nestedShape, type NestedNumberArray } from "./nested.js";

/** Element type of a tensor: `float64` (the default, the reference) or `float32` (for speed). */
export type DType = "float64" | "float32";

/** The typed array behind a tensor of either dtype. */
export type TensorData = Float64Array | Float32Array;

/** Options accepted when creating a tensor. */
export interface TensorOptions {
  /** Element type; `float64` unless given. */
  dtype?: DType;
  /** Shape for a flat typed array or to reshape nested values; its product must match. */
  shape?: readonly number[];
}

/** Most elements one tensor may hold: 2^32 - 1, the typed array length limit of Node 20 on 64-bit machines. */
export const MAX_ELEMENTS = 2 ** 32 - 1;

/** Allocates a zero-filled buffer of the given dtype. */
export function allocate(dtype: DType, size: number): TensorData {
  return dtype === "float32" ? new Float32Array(size) : new Float64Array(size);
}

/**
 * Allocates the buffer of a result. When that fails, the RangeError names the
 * result and its size instead of the engine's bare "Array buffer allocation
 * failed".
 *
 * @throws {RangeError} when the shape holds more than MAX_ELEMENTS or the allocation fails.
 */
export function allocateResult(
  where: string,
  what: string,
  dtype: DType,
  shape: readonly number[],
  hint = "",
): TensorData {
  const size = shapeSize(shape);
  const bytes = size * (dtype === "float32" ? 4 : 8);
  const fail = (): RangeError =>
    new RangeError(
      `${where}: ${what} ${formatShape(shape)} needs ${size} ${dtype} numbers ` +
        `(${(bytes / 2 ** 30).toFixed(1)} GiB), which could not be allocated${hint}`,
    );
  if (size > MAX_ELEMENTS) throw fail();
  try {
    return allocate(dtype, size);
  } catch (error) {
    if (error instanceof RangeError) throw fail();
    throw error;
  }
}

/** Returns the product of the dims of a shape (1 for the empty shape). */
export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

/** Returns the row-major (C-order) strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= Math.max(shape[d], 1);
  }
  return strides;
}

/**
 * A strided n-dimensional array of float64 or float32 values.
 *
 * `data[offset + sum(index[d] * strides[d])]` holds the element at `index`.
 * Views such as `transpose` share `data` with the tensor they come from.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  readonly data: TensorData;

  /**
   * Wraps a buffer as a tensor of `shape`, read through `strides` from `offset`.
   *
   * @throws {TypeError} when `data` is not a Float64Array or Float32Array, or shape or strides are not integers.
   * @throws {RangeError} when the strides do not match the shape, or an element would lie outside `data`.
   */
  constructor(
    data: TensorData,
    shape: readonly number[],
    strides: readonly number[] = contiguousStrides(shape),
    offset = 0,
  ) {
    const where = "new Tensor";
    if (!(data instanceof Float64Array) && !(data instanceof Float32Array)) {
      throw new TypeError(
        `${where}: data is ${formatValue(data)}; expected a Float64Array or a Float32Array`,
      );
    }
    checkShape(shape, where, "shape");
    if (!Array.isArray(strides) || strides.length !== shape.length) {
      throw new RangeError(
        `${where}: strides is ${formatValue(strides)}; expected ${shape.length} integers, one per dim of ${formatShape(shape)}`,
      );
    }
    if (!Number.isInteger(offset) || offset < 0) {
      throw new RangeError(`${where}: offset is ${formatValue(offset)}; expected an integer >= 0`);
    }
    if (shapeSize(shape) > 0) {
      let low = offset;
      let high = offset;
      for (let d = 0; d < shape.length; d++) {
        if (!Number.isInteger(strides[d])) {
          throw new TypeError(
            `${where}: strides[${d}] is ${formatValue(strides[d])}; expected an integer`,
          );
        }
        const reach = (shape[d] - 1) * strides[d];
        if (reach < 0) low += reach;
        else high += reach;
      }
      if (low < 0 || high >= data.length) {
        throw new RangeError(
          `${where}: shape ${formatShape(shape)} with strides ${formatShape(strides)} and offset ${offset} ` +
            `reads elements ${low} to ${high}, but data has ${data.length}; expected every element inside data`,
        );
      }
    }

    this.data = data;
    this.dtype = data instanceof Float32Array ? "float32" : "float64";
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
  }

  /** Number of elements. */
  get size(): number {
    return shapeSize(this.shape);
  }

  /** Number of dims. */
  get ndim(): number {
    return this.shape.length;
  }

  /** True when the elements lie in row-major order from `offset` with no gaps. */
  get isContiguous(): boolean {
    const expected = contiguousStrides(this.shape);
    for (let d = 0; d < this.shape.length; d++) {
      if (this.shape[d] > 1 && this.strides[d] !== expected[d]) return false;
    }
    return true;
  }

  /**
   * Returns the element at `index` (one integer per dim; negative counts from the end).
   *
   * @throws {RangeError} when the index has the wrong length or is out of bounds.
   */
  get(...index: number[]): number {
    if (index.length !== this.shape.length) {
      throw new RangeError(
        `Tensor.get: expected ${this.shape.length} indices for shape ${formatShape(this.shape)}, ` +
          `got ${index.length}`,
      );
    }
    let position = this.offset;
    for (let d = 0; d < index.length; d++) {
      if (typeof index[d] !== "number") {
        throw new TypeError(
          `Tensor.get: index[${d}] is ${formatValue(index[d])}; expected an integer`,
        );
      }
      const i = index[d] < 0 ? index[d] + this.shape[d] : index[d];
      if (!Number.isInteger(i) || i < 0 || i >= this.shape[d]) {
        throw new RangeError(
          `Tensor.get: index[${d}] is ${formatValue(index[d])}; expected an integer in ` +
            `[${-this.shape[d]}, ${this.shape[d] - 1}] for shape ${formatShape(this.shape)}`,
        );
      }
      position += i * this.strides[d];
    }
    return this.data[position];
  }

  /** Returns the elements as nested arrays in row-major order (a number for a 0-d tensor). */
  toArray(): NestedNumberArray {
    const build = (depth: number, position: number): NestedNumberArray => {
      if (depth === this.shape.length) return this.data[position];
      const row: NestedNumberArray[] = new Array(this.shape[depth]);
      for (let i = 0; i < this.shape[depth]; i++) {
        row[i] = build(depth + 1, position + i * this.strides[depth]);
      }
      return row;
    };
    return build(0, this.offset);
  }

  /** Returns a flat row-major copy of the elements. */
  toFlat(): TensorData {
    const source = this.contiguous();
    return source.data.slice(source.offset, source.offset + this.size);
  }

  /**
   * Returns a view with two dims swapped (by default the last two), sharing data.
   *
   * @throws {RangeError} when a dim is out of range.
   */
  transpose(dim0 = -2, dim1 = -1): Tensor {
    const a = normalizeDim(dim0, this.shape.length, "Tensor.transpose", "dim0");
    const b = normalizeDim(dim1, this.shape.length, "Tensor.transpose", "dim1");
    const shape = [...this.shape];
    const strides = [...this.strides];
    [shape[a], shape[b]] = [shape[b], shape[a]];
    [strides[a], strides[b]] = [strides[b], strides[a]];
    return new Tensor(this.data, shape, strides, this.offset);
  }

  /** Returns this tensor if it is contiguous from offset 0, else a contiguous copy. */
  contiguous(): Tensor {
    if (this.isContiguous && this.offset === 0 && this.data.length === this.size) return this;
    const out = allocate(this.dtype, this.size);
    copyStrided(this, out);
    return new Tensor(out, this.shape);
  }

  /**
   * Returns a tensor with the same elements in row-major order and a new shape.
   *
   * @throws {RangeError} when the new shape has a different number of elements.
   */
  reshape(shape: readonly number[]): Tensor {
    checkShape(shape, "Tensor.reshape", "shape");
    if (shapeSize(shape) !== this.size) {
      throw new RangeError(
        `Tensor.reshape: cannot reshape ${formatShape(this.shape)} (${this.size} elements) ` +
          `to ${formatShape(shape)} (${shapeSize(shape)} elements); expected the same number of elements`,
      );
    }
    const source = this.contiguous();
    return new Tensor(source.data, shape);
  }

  /** Returns a copy converted to `dtype` (this tensor itself when the dtype already matches). */
  astype(dtype: DType): Tensor {
    checkDType(dtype, "Tensor.astype", "dtype");
    if (dtype === this.dtype) return this;
    const out = allocate(dtype, this.size);
    copyStrided(this, out);
    return new Tensor(out, this.shape);
  }

  /** Describes the tensor for logs: `Tensor(float64, [2, 3])`. */
  toString(): string {
    return `Tensor(${this.dtype}, ${formatShape(this.shape)})`;
  }
}

/** Copies the elements of a strided tensor into `out` in row-major order. */
function copyStrided(source: Tensor, out: TensorData): void {
  const { shape, strides, data } = source;
  const ndim = shape.length;
  if (source.size === 0) return;
  if (ndim === 0) {
    out[0] = data[source.offset];
    return;
  }
  const index = new Array<number>(ndim).fill(0);
  const lastDim = shape[ndim - 1];
  const lastStride = strides[ndim - 1];
  let position = 0;
  let base = source.offset;
  for (;;) {
    for (let i = 0, p = base; i < lastDim; i++, p += lastStride) out[position++] = data[p];
    let d = ndim - 2;
    while (d >= 0) {
      index[d]++;
      base += strides[d];
      if (index[d] < shape[d]) break;
      base -= index[d] * strides[d];
      index[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

/** Resolves a possibly negative dim against `ndim`. */
export function normalizeDim(dim: number, ndim: number, where: string, name: string): number {
  if (typeof dim !== "number") {
    throw new TypeError(`${where}: ${name} is ${formatValue(dim)}; expected an integer`);
  }
  if (ndim === 0) {
    throw new RangeError(`${where}: ${name} is ${dim}, but the tensor has no dims (a scalar)`);
  }
  const resolved = dim < 0 ? dim + ndim : dim;
  if (!Number.isInteger(dim) || resolved < 0 || resolved >= ndim) {
    throw new RangeError(
      `${where}: ${name} is ${formatValue(dim)}; expected an integer in [${-ndim}, ${ndim - 1}] ` +
        `for a tensor with ${ndim} dims`,
    );
  }
  return resolved;
}

function checkDType(dtype: unknown, where: string, name: string): asserts dtype is DType {
  if (dtype !== "float64" && dtype !== "float32") {
    throw new TypeError(
      `${where}: ${name} is ${formatValue(dtype)}; expected "float64" or "float32"`,
    );
  }
}

function checkShape(shape: unknown, where: string, name: string): asserts shape is number[] {
  if (!Array.isArray(shape)) {
    throw new TypeError(
      `${where}: ${name} is ${formatValue(shape)}; expected an array of integers >= 0`,
    );
  }
  // A plain loop, not forEach, so holes in a sparse array are caught.
  for (let d = 0; d < shape.length; d++) {
    const dim: unknown = shape[d];
    if (typeof dim !== "number") {
      throw new TypeError(
        `${where}: ${name}[${d}] is ${formatValue(dim)}; expected an integer >= 0`,
      );
    }
    if (!Number.isInteger(dim) || dim < 0) {
      throw new RangeError(
        `${where}: ${name}[${d}] is ${formatValue(dim)}; expected an integer >= 0`,
      );
    }
  }
  if (shapeSize(shape) > MAX_ELEMENTS) {
    throw new RangeError(
      `${where}: ${name} ${formatShape(shape)} has ${shapeSize(shape)} elements; expected at most ` +
        `${MAX_ELEMENTS} (2^32 - 1, the longest typed array Node allocates)`,
    );
  }
}

/** Checks that options is a plain object with only `accepted` keys. */
function checkOptions(options: unknown, where: string, accepted: readonly string[]): void {
  if (options === undefined) return;
  const proto =
    options === null || typeof options !== "object" ? undefined : Object.getPrototypeOf(options);
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(
      `${where}: options is ${formatValue(options)}; expected a plain object with any of ${accepted.join(", ")}`,
    );
  }
  for (const key of Object.keys(options as object)) {
    if (!accepted.includes(key)) {
      throw new TypeError(
        `${where}: options.${key} is not an option; expected only ${accepted.join(", ")}`,
      );
    }
  }
}

/**
 * Creates a tensor from nested number (or boolean) arrays, or from a flat
 * Float64Array or Float32Array with `options.shape`.
 *
 * Booleans are stored as 1 and 0, which is how masks are written.
 *
 * @example
 * const q = tensor([[1, 0], [0, 1]]);            // float64, shape [2, 2]
 * const m = tensor([[true, false], [true, true]]); // 1 and 0
 * const f = tensor(new Float32Array(6), { shape: [2, 3] });
 *
 * @throws {TypeError} when `values` is not an array, typed array or number, an element is not a number or boolean, or options is not a plain object of known keys.
 * @throws {RangeError} when nested arrays are ragged or `options.shape` does not match the element count.
 */
export function tensor(
  values: NestedNumberArray | boolean | readonly unknown[] | Float64Array | Float32Array,
  options: TensorOptions = {},
): Tensor {
  const where = "tensor";
  checkOptions(options, where, ["dtype", "shape"]);
  if (options.shape !== undefined) checkShape(options.shape, where, "options.shape");

  if (values instanceof Float64Array || values instanceof Float32Array) {
    const dtype = options.dtype ?? (values instanceof Float32Array ? "float32" : "float64");
    checkDType(dtype, where, "options.dtype");
    const shape = options.shape ?? [values.length];
    if (shapeSize(shape) !== values.length) {
      throw new RangeError(
        `${where}: options.shape ${formatShape(shape)} holds ${shapeSize(shape)} elements, but ` +
          `values has ${values.length}; expected a shape whose product is ${values.length}`,
      );
    }
    const data = allocate(dtype, values.length);
    data.set(values);
    return new Tensor(data, shape);
  }

  const dtype = options.dtype ?? "float64";
  checkDType(dtype, where, "options.dtype");
  if (!Array.isArray(values) && typeof values !== "number" && typeof values !== "boolean") {
    throw new TypeError(
      `${where}: values is ${formatValue(values)}; expected nested arrays of numbers or booleans, ` +
        `a number, a Float64Array or a Float32Array`,
    );
  }
  const nested = nestedShape(values, where, "values");
  const data = allocate(dtype, shapeSize(nested));
  flattenNested(values, nested, data, "number-or-boolean", where, "values");
  if (options.shape === undefined) return new Tensor(data, nested);
  if (shapeSize(options.shape) !== data.length) {
    throw new RangeError(
      `${where}: options.shape ${formatShape(options.shape)} holds ${shapeSize(options.shape)} ` +
        `elements, but values has shape ${formatShape(nested)} (${data.length} elements); ` +
        `expected a shape whose product is ${data.length}`,
    );
  }
  return new Tensor(data, options.shape);
}

/**
 * Creates a tensor filled with zeros.
 *
 * @throws {TypeError} when `shape` is not an array, options is not a plain object of known keys, or `options.dtype` is unknown.
 * @throws {RangeError} when a dim is negative or not an integer, or the shape has more than MAX_ELEMENTS elements.
 */
export function zeros(shape: readonly number[], options: { dtype?: DType } = {}): Tensor {
  checkShape(shape, "zeros", "shape");
  checkOptions(options, "zeros", ["dtype"]);
  const dtype = options.dtype ?? "float64";
  checkDType(dtype, "zeros", "options.dtype");
  return new Tensor(allocate(dtype, shapeSize(shape)), shape);
}

/**
 * Creates a tensor of standard normal samples from a seeded generator
 * (xoshiro128** with the Box-Muller transform), so the same seed gives the
 * same values in every run of the same JavaScript engine.
 *
 * Without `options.seed` the seed is drawn from `Math.random` and the values
 * are not reproducible.
 *
 * @example
 * const q = randn([2, 4, 8], { seed: 0 }); // (batch 2, L 4, E 8)
 *
 * @throws {TypeError} when `shape` is not an array, options is not a plain object of known keys, the seed is not a number or the dtype is unknown.
 * @throws {RangeError} when a dim is negative or fractional, or the seed is not an integer in [0, 2^32).
 */
export function randn(
  shape: readonly number[],
  options: { seed?: number; dtype?: DType } = {},
): Tensor {
  const where = "randn";
  checkShape(shape, where, "shape");
  checkOptions(options, where, ["seed", "dtype"]);
  const dtype = options.dtype ?? "float64";
  checkDType(dtype, where, "options.dtype");
  let seed = options.seed;
  if (seed === undefined) {
    seed = Math.floor(Math.random() * 2 ** 32);
  } else if (typeof seed !== "number") {
    throw new TypeError(
      `${where}: options.seed is ${formatValue(seed)}; expected an integer in [0, 2^32)`,
    );
  } else if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new RangeError(
      `${where}: options.seed is ${formatValue(seed)}; expected an integer in [0, 2^32)`,
    );
  }
  const next = xoshiro128(seed);
  const data = allocate(dtype, shapeSize(shape));
  for (let i = 0; i < data.length; i += 2) {
    // Box-Muller: two uniforms in (0, 1] give two independent normals.
    const u1 = 1 - next();
    const u2 = next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    data[i] = radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < data.length) data[i + 1] = radius * Math.sin(2 * Math.PI * u2);
  }
  return new Tensor(data, shape);
}

/** Returns a xoshiro128** generator of uniforms in [0, 1), its state filled by splitmix32. */
function xoshiro128(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result / 2 ** 32;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
