// The one step that validates and describes an attention call. Every public
// attention function runs it first, so all of them accept the same inputs and
// reject bad ones with the same messages.
//
// Dimension legend: Q (..., L, E), K (..., S, E), V (..., S, Ev); "..." are
// leading batch dims that broadcast as in PyTorch.

import { formatShape, formatValue } from "./format.js";
import { flattenNested, nestedShape } from "./nested.js";
import type { NestedBooleanArray, NestedNumberArray } from "./nested.js";
import { broadcastShapes, forEachIndex } from "./ops.js";
import { allocate, contiguousStrides, shapeSize, Tensor } from "./tensor.js";
import type { DType, TensorData } from "./tensor.js";

/** A tensor or nested number arrays. */
export type TensorLike = Tensor | NestedNumberArray;

/** A keep-mask: true or 1 keeps a position, false or 0 masks it. */
export type MaskLike = Tensor | NestedBooleanArray | NestedNumberArray;

/** Alignment of queries with keys for causal and window masks when L != S. */
export type Alignment = "upper-left" | "lower-right";

/** Options shared by every attention function. */
export interface AttentionOptions {
  /** Query i sees key j only when `j <= i + offset` (offset from `alignment`); combines with `mask` by AND. */
  isCausal?: boolean;
  /** `"upper-left"` (offset 0, the default, as PyTorch's `is_causal`) or `"lower-right"` (offset S - L). */
  alignment?: Alignment;
  /** `[left, right]`, each an integer >= 0 or null (unbounded): query i sees keys `i + offset - left ..= i + offset + right`. */
  window?: readonly [number | null, number | null];
  /** Multiplies the logits; default `1 / sqrt(E)`. */
  scale?: number;
  /** Additive logits bias broadcastable to (..., L, S); `-Infinity` entries count as masked. */
  bias?: TensorLike;
  /** When > 0, logits become `softcap * tanh(logits / softcap)` after scaling. */
  softcap?: number;
}

const OPTION_NAMES = ["isCausal", "alignment", "window", "scale", "bias", "softcap"];

/**
 * An operand read per batch: contiguous data, its original shape, and for
 * each flat batch index the offset of its (rows, columns) matrix. Broadcast
 * rows or columns have stride 0.
 */
export interface Operand {
  readonly data: TensorData;
  readonly shape: readonly number[];
  readonly offsets: Float64Array;
  readonly rowStride: number;
  readonly colStride: number;
}

/** A validated, normalized attention call: what the kernels need and nothing else. */
export interface AttentionCall {
  readonly where: string;
  readonly dtype: DType;
  /** Broadcast leading dims of Q, K and V. */
  readonly batchShape: readonly number[];
  /** Product of `batchShape`. */
  readonly batch: number;
  readonly L: number;
  readonly S: number;
  readonly E: number;
  readonly Ev: number;
  readonly q: Operand;
  readonly k: Operand;
  readonly v: Operand;
  /** Keep-mask with 1 (keep) and 0 (masked), or null when none was given. */
  readonly mask: Operand | null;
  readonly bias: Operand | null;
  /** Query i lines up with key `i + offset`: 0 upper-left, S - L lower-right. */
  readonly offset: number;
  /** Keys visible to query i: `[i + offset - windowLeft, i + offset + windowRight]`, with Infinity for unbounded. */
  readonly windowLeft: number;
  readonly windowRight: number;
  readonly scale: number;
  /** Softcap, or 0 when off. */
  readonly softcap: number;
}

interface RawOperand {
  data: TensorData;
  shape: number[];
}

/**
 * Validates the arguments of an attention function and describes the call.
 *
 * @throws {TypeError} for a wrong kind of value (not a tensor or array, an unknown option, mixed dtypes).
 * @throws {RangeError} for a bad value (shapes that do not fit, a mask value other than 0 or 1, a bad scale, window or softcap).
 */
export function normalizeAttention(
  where: string,
  Q: unknown,
  K: unknown,
  V: unknown,
  mask: unknown,
  options: unknown,
  dOutput?: unknown,
): AttentionCall {
  // Step 1: read the options, so the dtype of a tensor bias counts below.
  const opts = readOptions(where, options);

  // Step 2: fix one dtype from the tensor arguments; nested arrays take it.
  const dtype = commonDType(where, [
    ["Q", Q],
    ["K", K],
    ["V", V],
    ["options.bias", opts.bias],
    ["dOutput", dOutput],
  ]);
  const q = toOperandData(where, "Q", Q, dtype);
  const k = toOperandData(where, "K", K, dtype);
  const v = toOperandData(where, "V", V, dtype);

  // Step 3: check the dims: Q (..., L, E), K (..., S, E), V (..., S, Ev).
  for (const [name, operand, letters] of [
    ["Q", q, "(..., L, E)"],
    ["K", k, "(..., S, E)"],
    ["V", v, "(..., S, Ev)"],
  ] as const) {
    if (operand.shape.length < 2) {
      throw new RangeError(
        `${where}: ${name} has shape ${formatShape(operand.shape)}; expected at least 2 dims ${letters}`,
      );
    }
  }
  const [L, E] = q.shape.slice(-2);
  const [S, Ek] = k.shape.slice(-2);
  const [Sv, Ev] = v.shape.slice(-2);
  if (Ek !== E) {
    throw new RangeError(
      `${where}: K has shape ${formatShape(k.shape)} with E = ${Ek}, but Q has shape ` +
        `${formatShape(q.shape)} with E = ${E}; expected Q (..., L, E) and K (..., S, E) with the same E`,
    );
  }
  if (Sv !== S) {
    throw new RangeError(
      `${where}: V has shape ${formatShape(v.shape)} with S = ${Sv}, but K has shape ` +
        `${formatShape(k.shape)} with S = ${S}; expected K (..., S, E) and V (..., S, Ev) with the same S`,
    );
  }
  const batchShape = broadcastShapes(
    [q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2)],
    [`Q ${formatShape(q.shape)}`, `K ${formatShape(k.shape)}`, `V ${formatShape(v.shape)}`],
    where,
  );
  const target = [...batchShape, L, S];

  // Step 4: scale, softcap, alignment and window.
  let scale = opts.scale;
  if (scale === undefined) {
    if (E === 0) {
      throw new RangeError(
        `${where}: Q has shape ${formatShape(q.shape)} with E = 0, so the default scale ` +
          `1 / sqrt(E) is infinite; pass options.scale (a finite number > 0) to attend with E = 0`,
      );
    }
    scale = 1 / Math.sqrt(E);
  }
  const offset = opts.alignment === "lower-right" ? S - L : 0;
  const [left, right] = opts.window ?? [null, null];
  let windowRight = right ?? Infinity;
  if (opts.isCausal) windowRight = Math.min(windowRight, 0);

  // Step 5: the mask and the bias, checked against (..., L, S).
  const maskOperand =
    mask === undefined || mask === null ? null : toMaskOperand(where, mask, target);
  const biasOperand =
    opts.bias === undefined || opts.bias === null
      ? null
      : toBiasOperand(where, opts.bias, dtype, target);

  return {
    where,
    dtype,
    batchShape,
    batch: shapeSize(batchShape),
    L,
    S,
    E,
    Ev,
    q: describeOperand(q, batchShape),
    k: describeOperand(k, batchShape),
    v: describeOperand(v, batchShape),
    mask: maskOperand,
    bias: biasOperand,
    offset,
    windowLeft: left ?? Infinity,
    windowRight,
    scale,
    softcap: opts.softcap ?? 0,
  };
}

interface ReadOptions {
  isCausal: boolean;
  alignment: Alignment;
  window: [number | null, number | null] | undefined;
  scale: number | undefined;
  bias: unknown;
  softcap: number | undefined;
}

function readOptions(where: string, options: unknown): ReadOptions {
  if (options === undefined || options === null) {
    return {
      isCausal: false,
      alignment: "upper-left",
      window: undefined,
      scale: undefined,
      bias: undefined,
      softcap: undefined,
    };
  }
  const proto = typeof options === "object" ? Object.getPrototypeOf(options) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(
      `${where}: options is ${formatValue(options)}; expected a plain object with any of ${OPTION_NAMES.join(", ")}`,
    );
  }
  const record = options as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!OPTION_NAMES.includes(key)) {
      throw new TypeError(
        `${where}: options.${key} is not an option; expected only ${OPTION_NAMES.join(", ")}`,
      );
    }
  }

  const isCausal = record.isCausal ?? false;
  if (typeof isCausal !== "boolean") {
    throw new TypeError(
      `${where}: options.isCausal is ${formatValue(isCausal)}; expected true or false`,
    );
  }

  const alignment = record.alignment ?? "upper-left";
  if (alignment !== "upper-left" && alignment !== "lower-right") {
    const fault = typeof alignment === "string" ? RangeError : TypeError;
    throw new fault(
      `${where}: options.alignment is ${formatValue(alignment)}; expected "upper-left" (offset 0) ` +
        `or "lower-right" (offset S - L)`,
    );
  }

  let window: [number | null, number | null] | undefined;
  if (record.window !== undefined && record.window !== null) {
    const raw = record.window;
    if (!Array.isArray(raw)) {
      throw new TypeError(
        `${where}: options.window is ${formatValue(raw)}; expected [left, right], each an integer >= 0 or null`,
      );
    }
    if (raw.length !== 2) {
      throw new RangeError(
        `${where}: options.window has ${raw.length} entries; expected [left, right], each an integer >= 0 or null`,
      );
    }
    window = [null, null];
    for (let side = 0; side < 2; side++) {
      const entry = raw[side];
      if (entry === null) continue;
      if (typeof entry !== "number") {
        throw new TypeError(
          `${where}: options.window[${side}] is ${formatValue(entry)}; expected an integer >= 0 or null (unbounded)`,
        );
      }
      if (!Number.isInteger(entry) || entry < 0) {
        throw new RangeError(
          `${where}: options.window[${side}] is ${formatValue(entry)}; expected an integer >= 0 or null (unbounded)`,
        );
      }
      window[side] = entry;
    }
  }

  const scale = record.scale;
  if (scale !== undefined) {
    if (typeof scale !== "number") {
      throw new TypeError(
        `${where}: options.scale is ${formatValue(scale)}; expected a finite number > 0`,
      );
    }
    if (!Number.isFinite(scale) || scale <= 0) {
      throw new RangeError(
        `${where}: options.scale is ${formatValue(scale)}; expected a finite number > 0`,
      );
    }
  }

  const softcap = record.softcap;
  if (softcap !== undefined) {
    if (typeof softcap !== "number") {
      throw new TypeError(
        `${where}: options.softcap is ${formatValue(softcap)}; expected a finite number > 0`,
      );
    }
    if (!Number.isFinite(softcap) || softcap <= 0) {
      throw new RangeError(
        `${where}: options.softcap is ${formatValue(softcap)}; expected a finite number > 0 (omit it to turn softcapping off)`,
      );
    }
  }

  return {
    isCausal,
    alignment,
    window,
    scale: scale as number | undefined,
    bias: record.bias,
    softcap: softcap as number | undefined,
  };
}

/**
 * Returns the dtype shared by the tensor arguments (float64 when none is a
 * tensor), so nested arrays can take it.
 *
 * @throws {TypeError} when two tensor arguments have different dtypes.
 */
export function commonDType(where: string, args: readonly (readonly [string, unknown])[]): DType {
  let found: [string, Tensor] | undefined;
  for (const [name, value] of args) {
    if (!(value instanceof Tensor)) continue;
    if (found === undefined) {
      found = [name, value];
    } else if (found[1].dtype !== value.dtype) {
      throw new TypeError(
        `${where}: ${found[0]} is ${found[1].dtype} but ${name} is ${value.dtype}; expected one dtype ` +
          `for all tensor arguments (convert with tensor.astype("${found[1].dtype}"))`,
      );
    }
  }
  return found ? found[1].dtype : "float64";
}

/**
 * Converts a tensor or nested number array to contiguous data of `dtype`.
 *
 * @throws {TypeError} when the value is neither, or an element is not a number.
 * @throws {RangeError} when the nested array is ragged.
 */
export function toOperandData(
  where: string,
  name: string,
  value: unknown,
  dtype: DType,
): RawOperand {
  if (value instanceof Tensor) {
    const source = value.dtype === dtype ? value.contiguous() : value.astype(dtype);
    return { data: source.data, shape: [...source.shape] };
  }
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${where}: ${name} is ${formatValue(value)}; expected a Tensor or a nested array of numbers`,
    );
  }
  const shape = nestedShape(value, where, name);
  const data = allocate(dtype, shapeSize(shape));
  flattenNested(value, shape, data, "number", where, name);
  return { data, shape };
}

function describeOperand(raw: RawOperand, batchShape: readonly number[]): Operand {
  const rows = raw.shape[raw.shape.length - 2];
  const cols = raw.shape[raw.shape.length - 1];
  return {
    data: raw.data,
    shape: raw.shape,
    offsets: batchOffsets(raw.shape, batchShape, rows * cols),
    rowStride: cols,
    colStride: 1,
  };
}

/**
 * For each flat index of `batchShape`, the offset of the matrix of a
 * contiguous tensor of `shape` whose last two dims hold `matrix` elements.
 */
function batchOffsets(
  shape: readonly number[],
  batchShape: readonly number[],
  matrix: number,
): Float64Array {
  const lead = shape.slice(0, -2);
  const own = contiguousStrides(lead).map((s) => s * matrix);
  const shift = batchShape.length - lead.length;
  const strides = batchShape.map((_, d) =>
    d < shift || lead[d - shift] === 1 ? 0 : own[d - shift],
  );
  const offsets = new Float64Array(shapeSize(batchShape));
  forEachIndex(batchShape, [{ strides, offset: 0 }], (flat, [off]) => {
    offsets[flat] = off;
  });
  return offsets;
}

/** Checks that `shape` broadcasts to `target` without growing it, as PyTorch requires of a mask. */
function checkBroadcastsTo(
  where: string,
  name: string,
  shape: readonly number[],
  target: readonly number[],
): void {
  const fits =
    shape.length <= target.length &&
    shape.every((dim, d) => dim === 1 || dim === target[target.length - shape.length + d]);
  if (!fits) {
    throw new RangeError(
      `${where}: ${name} has shape ${formatShape(shape)}; expected a shape broadcastable to ` +
        `(..., L, S) = ${formatShape(target)} (each dim equal or 1, at most ${target.length} dims)`,
    );
  }
}

/** Pads a shape with leading 1s to at least two dims, so it has (rows, columns). */
function atLeast2d(shape: readonly number[]): number[] {
  return [...new Array<number>(Math.max(0, 2 - shape.length)).fill(1), ...shape];
}

function toMaskOperand(where: string, mask: unknown, target: readonly number[]): Operand {
  // Step 1: read nested booleans, nested 0/1 numbers or a tensor as 0/1 data.
  let data: TensorData;
  let shape: number[];
  if (mask instanceof Tensor) {
    const source = mask.contiguous();
    data = source.data.slice(source.offset, source.offset + source.size);
    shape = [...mask.shape];
  } else if (Array.isArray(mask) || typeof mask === "boolean" || typeof mask === "number") {
    shape = nestedShape(mask, where, "mask");
    data = new Float64Array(shapeSize(shape));
    flattenNested(mask, shape, data, "number-or-boolean", where, "mask");
  } else {
    throw new TypeError(
      `${where}: mask is ${formatValue(mask)}; expected a Tensor or nested arrays of booleans ` +
        `or 0/1 numbers (true/1 keeps, false/0 masks)`,
    );
  }

  // Step 2: a numeric mask may hold only 0 and 1, because an additive 0/-inf
  // float mask (PyTorch's float attn_mask) read as a keep-mask would invert it.
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0 && data[i] !== 1) {
      const index = unflatten(i, shape);
      throw new RangeError(
        `${where}: mask${index.map((x) => `[${x}]`).join("")} is ${formatValue(data[i])}; a keep-mask ` +
          `holds only true/1 (keep) and false/0 (masked). For an additive float mask such as ` +
          `0 and -Infinity (PyTorch's float attn_mask), pass it as options.bias instead`,
      );
    }
  }

  // Step 3: the shape must broadcast to (..., L, S).
  if (isEmptyNested(mask, { data, shape }, target))
    return broadcastOperand(data, [...target], target);
  checkBroadcastsTo(where, "mask", shape, target);
  return broadcastOperand(data, atLeast2d(shape), target);
}

function toBiasOperand(
  where: string,
  bias: unknown,
  dtype: DType,
  target: readonly number[],
): Operand {
  const raw = toOperandData(where, "options.bias", bias, dtype);
  if (isEmptyNested(bias, raw, target)) return broadcastOperand(raw.data, [...target], target);
  for (let i = 0; i < raw.data.length; i++) {
    const x = raw.data[i];
    if (Number.isNaN(x) || x === Infinity) {
      const index = unflatten(i, raw.shape);
      throw new RangeError(
        `${where}: options.bias${index.map((j) => `[${j}]`).join("")} is ${formatValue(x)}; ` +
          `expected finite numbers or -Infinity (masked)`,
      );
    }
  }
  checkBroadcastsTo(where, "options.bias", raw.shape, target);
  return broadcastOperand(raw.data, atLeast2d(raw.shape), target);
}

/** Describes contiguous data of `shape` (at least 2 dims) read as `target` (..., L, S). */
function broadcastOperand(data: TensorData, shape: number[], target: readonly number[]): Operand {
  const rows = shape[shape.length - 2];
  const cols = shape[shape.length - 1];
  return {
    data,
    shape,
    offsets: batchOffsets(shape, target.slice(0, -2), rows * cols),
    rowStride: rows === 1 ? 0 : cols,
    colStride: cols === 1 ? 0 : 1,
  };
}

/**
 * Returns whether `value` is an empty nested array and `expected` is empty
 * too. Such an array cannot carry the dims after its empty one ([[]] reads as
 * [1, 0]), so it is accepted in place of any empty shape.
 */
function isEmptyNested(value: unknown, raw: RawOperand, expected: readonly number[]): boolean {
  return !(value instanceof Tensor) && raw.data.length === 0 && shapeSize(expected) === 0;
}

function unflatten(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return index;
}

/**
 * Validates `dOutput` against the output shape (..., L, Ev) of a call.
 *
 * @throws {TypeError} when it is not a tensor or nested array.
 * @throws {RangeError} when its shape is not (..., L, Ev).
 */
export function normalizeOutputGradient(call: AttentionCall, dOutput: unknown): Operand {
  const raw = toOperandData(call.where, "dOutput", dOutput, call.dtype);
  const expected = [...call.batchShape, call.L, call.Ev];
  if (isEmptyNested(dOutput, raw, expected)) {
    return describeOperand({ data: raw.data, shape: expected }, call.batchShape);
  }
  const same = raw.shape.length === expected.length && raw.shape.every((d, i) => d === expected[i]);
  if (!same) {
    throw new RangeError(
      `${call.where}: dOutput has shape ${formatShape(raw.shape)}; expected the output's shape ` +
        `(..., L, Ev) = ${formatShape(expected)}`,
    );
  }
  return describeOperand(raw, call.batchShape);
}
